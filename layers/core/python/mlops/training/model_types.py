"""The allow-list of types a caller's model may hold, and the types a skops file names, read without building it.

Standard library only, so the API function (no scikit-learn) refuses an artifact before a run starts, as the
training steps do again before loading it (``mlops.training.external``). A skops file stores its object graph as
JSON (``schema.json`` in a zip): every object, type and function in it is a node naming its ``__module__`` and
``__class__``; all of them must be in ``ALLOWED_TYPES``.

``ESTIMATOR_TYPES`` is scikit-learn's ``sklearn.utils.all_estimators()`` for the pinned version, written out so it
can be read and reviewed (a unit test holds it equal to what the installed scikit-learn lists, so an upgrade shows
every added or moved class), without ``FunctionTransformer``, which calls any function it is given.

``LIGHTGBM_TYPES`` adds LightGBM's two scikit-learn estimators (alone or as a Pipeline's step) and what they hold: the
``Booster``, whose saved state is LightGBM's model text (parsed by LightGBM's own reader, no code in it), and the
``OrderedDict``/``defaultdict`` of its evaluation results. Not the ranker, not ``Dataset``, nothing else of LightGBM.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from mlops.errors import UntrustedModelType
from mlops.storage import layout

MAX_ARTIFACT_BYTES = 200 * 1024 * 1024  # a caller's model file, read whole by the API and the training steps
REFUSED_ESTIMATORS = frozenset({"FunctionTransformer"})  # scikit-learn's, but it runs the function it holds

ESTIMATOR_TYPES: dict[str, tuple[str, ...]] = {
    "sklearn.calibration": ("CalibratedClassifierCV",),
    "sklearn.cluster._affinity_propagation": ("AffinityPropagation",),
    "sklearn.cluster._agglomerative": ("AgglomerativeClustering", "FeatureAgglomeration"),
    "sklearn.cluster._bicluster": ("SpectralBiclustering", "SpectralCoclustering"),
    "sklearn.cluster._birch": ("Birch",),
    "sklearn.cluster._bisect_k_means": ("BisectingKMeans",),
    "sklearn.cluster._dbscan": ("DBSCAN",),
    "sklearn.cluster._hdbscan.hdbscan": ("HDBSCAN",),
    "sklearn.cluster._kmeans": ("KMeans", "MiniBatchKMeans"),
    "sklearn.cluster._mean_shift": ("MeanShift",),
    "sklearn.cluster._optics": ("OPTICS",),
    "sklearn.cluster._spectral": ("SpectralClustering",),
    "sklearn.compose._column_transformer": ("ColumnTransformer",),
    "sklearn.compose._target": ("TransformedTargetRegressor",),
    "sklearn.covariance._elliptic_envelope": ("EllipticEnvelope",),
    "sklearn.covariance._empirical_covariance": ("EmpiricalCovariance",),
    "sklearn.covariance._graph_lasso": ("GraphicalLasso", "GraphicalLassoCV"),
    "sklearn.covariance._robust_covariance": ("MinCovDet",),
    "sklearn.covariance._shrunk_covariance": ("LedoitWolf", "OAS", "ShrunkCovariance"),
    "sklearn.cross_decomposition._pls": ("CCA", "PLSCanonical", "PLSRegression", "PLSSVD"),
    "sklearn.decomposition._dict_learning": ("DictionaryLearning", "MiniBatchDictionaryLearning", "SparseCoder"),
    "sklearn.decomposition._factor_analysis": ("FactorAnalysis",),
    "sklearn.decomposition._fastica": ("FastICA",),
    "sklearn.decomposition._incremental_pca": ("IncrementalPCA",),
    "sklearn.decomposition._kernel_pca": ("KernelPCA",),
    "sklearn.decomposition._lda": ("LatentDirichletAllocation",),
    "sklearn.decomposition._nmf": ("MiniBatchNMF", "NMF"),
    "sklearn.decomposition._pca": ("PCA",),
    "sklearn.decomposition._sparse_pca": ("MiniBatchSparsePCA", "SparsePCA"),
    "sklearn.decomposition._truncated_svd": ("TruncatedSVD",),
    "sklearn.discriminant_analysis": ("LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis"),
    "sklearn.dummy": ("DummyClassifier", "DummyRegressor"),
    "sklearn.ensemble._bagging": ("BaggingClassifier", "BaggingRegressor"),
    "sklearn.ensemble._forest": (
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "RandomTreesEmbedding",
    ),
    "sklearn.ensemble._gb": ("GradientBoostingClassifier", "GradientBoostingRegressor"),
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting": (
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
    ),
    "sklearn.ensemble._iforest": ("IsolationForest",),
    "sklearn.ensemble._stacking": ("StackingClassifier", "StackingRegressor"),
    "sklearn.ensemble._voting": ("VotingClassifier", "VotingRegressor"),
    "sklearn.ensemble._weight_boosting": ("AdaBoostClassifier", "AdaBoostRegressor"),
    "sklearn.feature_extraction._dict_vectorizer": ("DictVectorizer",),
    "sklearn.feature_extraction._hash": ("FeatureHasher",),
    "sklearn.feature_extraction.image": ("PatchExtractor",),
    "sklearn.feature_extraction.text": ("CountVectorizer", "HashingVectorizer", "TfidfTransformer", "TfidfVectorizer"),
    "sklearn.feature_selection._from_model": ("SelectFromModel",),
    "sklearn.feature_selection._rfe": ("RFE", "RFECV"),
    "sklearn.feature_selection._sequential": ("SequentialFeatureSelector",),
    "sklearn.feature_selection._univariate_selection": (
        "GenericUnivariateSelect",
        "SelectFdr",
        "SelectFpr",
        "SelectFwe",
        "SelectKBest",
        "SelectPercentile",
    ),
    "sklearn.feature_selection._variance_threshold": ("VarianceThreshold",),
    "sklearn.frozen._frozen": ("FrozenEstimator",),
    "sklearn.gaussian_process._gpc": ("GaussianProcessClassifier",),
    "sklearn.gaussian_process._gpr": ("GaussianProcessRegressor",),
    "sklearn.impute._base": ("MissingIndicator", "SimpleImputer"),
    "sklearn.impute._knn": ("KNNImputer",),
    "sklearn.isotonic": ("IsotonicRegression",),
    "sklearn.kernel_approximation": (
        "AdditiveChi2Sampler",
        "Nystroem",
        "PolynomialCountSketch",
        "RBFSampler",
        "SkewedChi2Sampler",
    ),
    "sklearn.kernel_ridge": ("KernelRidge",),
    "sklearn.linear_model._base": ("LinearRegression",),
    "sklearn.linear_model._bayes": ("ARDRegression", "BayesianRidge"),
    "sklearn.linear_model._coordinate_descent": (
        "ElasticNet",
        "ElasticNetCV",
        "Lasso",
        "LassoCV",
        "MultiTaskElasticNet",
        "MultiTaskElasticNetCV",
        "MultiTaskLasso",
        "MultiTaskLassoCV",
    ),
    "sklearn.linear_model._glm.glm": ("GammaRegressor", "PoissonRegressor", "TweedieRegressor"),
    "sklearn.linear_model._huber": ("HuberRegressor",),
    "sklearn.linear_model._least_angle": ("Lars", "LarsCV", "LassoLars", "LassoLarsCV", "LassoLarsIC"),
    "sklearn.linear_model._logistic": ("LogisticRegression", "LogisticRegressionCV"),
    "sklearn.linear_model._omp": ("OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV"),
    "sklearn.linear_model._passive_aggressive": ("PassiveAggressiveClassifier", "PassiveAggressiveRegressor"),
    "sklearn.linear_model._perceptron": ("Perceptron",),
    "sklearn.linear_model._quantile": ("QuantileRegressor",),
    "sklearn.linear_model._ransac": ("RANSACRegressor",),
    "sklearn.linear_model._ridge": ("Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV"),
    "sklearn.linear_model._stochastic_gradient": ("SGDClassifier", "SGDOneClassSVM", "SGDRegressor"),
    "sklearn.linear_model._theil_sen": ("TheilSenRegressor",),
    "sklearn.manifold._classical_mds": ("ClassicalMDS",),
    "sklearn.manifold._isomap": ("Isomap",),
    "sklearn.manifold._locally_linear": ("LocallyLinearEmbedding",),
    "sklearn.manifold._mds": ("MDS",),
    "sklearn.manifold._spectral_embedding": ("SpectralEmbedding",),
    "sklearn.manifold._t_sne": ("TSNE",),
    "sklearn.mixture._bayesian_mixture": ("BayesianGaussianMixture",),
    "sklearn.mixture._gaussian_mixture": ("GaussianMixture",),
    "sklearn.model_selection._classification_threshold": ("FixedThresholdClassifier", "TunedThresholdClassifierCV"),
    "sklearn.model_selection._search": ("GridSearchCV", "RandomizedSearchCV"),
    "sklearn.multiclass": ("OneVsOneClassifier", "OneVsRestClassifier", "OutputCodeClassifier"),
    "sklearn.multioutput": ("ClassifierChain", "MultiOutputClassifier", "MultiOutputRegressor", "RegressorChain"),
    "sklearn.naive_bayes": ("BernoulliNB", "CategoricalNB", "ComplementNB", "GaussianNB", "MultinomialNB"),
    "sklearn.neighbors._classification": ("KNeighborsClassifier", "RadiusNeighborsClassifier"),
    "sklearn.neighbors._graph": ("KNeighborsTransformer", "RadiusNeighborsTransformer"),
    "sklearn.neighbors._kde": ("KernelDensity",),
    "sklearn.neighbors._lof": ("LocalOutlierFactor",),
    "sklearn.neighbors._nca": ("NeighborhoodComponentsAnalysis",),
    "sklearn.neighbors._nearest_centroid": ("NearestCentroid",),
    "sklearn.neighbors._regression": ("KNeighborsRegressor", "RadiusNeighborsRegressor"),
    "sklearn.neighbors._unsupervised": ("NearestNeighbors",),
    "sklearn.neural_network._multilayer_perceptron": ("MLPClassifier", "MLPRegressor"),
    "sklearn.neural_network._rbm": ("BernoulliRBM",),
    "sklearn.pipeline": ("FeatureUnion", "Pipeline"),
    "sklearn.preprocessing._data": (
        "Binarizer",
        "KernelCenterer",
        "MaxAbsScaler",
        "MinMaxScaler",
        "Normalizer",
        "PowerTransformer",
        "QuantileTransformer",
        "RobustScaler",
        "StandardScaler",
    ),
    "sklearn.preprocessing._discretization": ("KBinsDiscretizer",),
    "sklearn.preprocessing._encoders": ("OneHotEncoder", "OrdinalEncoder"),
    "sklearn.preprocessing._label": ("LabelBinarizer", "LabelEncoder", "MultiLabelBinarizer"),
    "sklearn.preprocessing._polynomial": ("PolynomialFeatures", "SplineTransformer"),
    "sklearn.preprocessing._target_encoder": ("TargetEncoder",),
    "sklearn.random_projection": ("GaussianRandomProjection", "SparseRandomProjection"),
    "sklearn.semi_supervised._label_propagation": ("LabelPropagation", "LabelSpreading"),
    "sklearn.semi_supervised._self_training": ("SelfTrainingClassifier",),
    "sklearn.svm._classes": ("LinearSVC", "LinearSVR", "NuSVC", "NuSVR", "OneClassSVM", "SVC", "SVR"),
    "sklearn.tree._classes": (
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
    ),
}

LIGHTGBM_TYPES = frozenset(
    {
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.basic.Booster",
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)

# What a fitted scikit-learn model holds besides estimators: containers, arrays, numpy scalar types (as dtypes),
# sparse matrices, and the compiled internals of trees, boosting, neighbours and losses.
HELD_TYPES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.slice",
        "builtins.NoneType",
        "builtins.object",
        "numpy.ndarray",
        "numpy.dtype",
        *(f"numpy.{name}" for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64")),
        *(f"numpy.{name}" for name in ("uint8", "uint16", "uint32", "uint64", "bool", "bool_", "str_", "object_")),
        "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.Interval",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn.utils._bunch.Bunch",
    }
)


ALLOWED_TYPES = frozenset(
    {f"{module}.{name}" for module, names in ESTIMATOR_TYPES.items() for name in names} | HELD_TYPES | LIGHTGBM_TYPES
)


def artifact_types(payload: bytes) -> set[str]:
    """Every ``module.class`` a skops file names (objects, types and functions alike), read from its schema alone:
    nothing is built. Bytes that are not a skops file are refused as an untrusted artifact."""
    schema = object_schema(payload)
    return {f"{node.get('__module__')}.{node.get('__class__')}" for node in _nodes(schema) if _names_a_type(node)}


def object_schema(payload: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            return json.loads(archive.read(layout.SKOPS_SCHEMA_MEMBER))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UntrustedModelType(f"the artifact is not a skops file (no readable object schema): {exc}") from exc


def _nodes(schema: Any) -> list[dict[str, Any]]:
    """Every JSON object of the schema, depth first (a loop, not recursion: a deep file cannot exhaust the stack)."""
    found: list[dict[str, Any]] = []
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            found.append(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _names_a_type(node: dict[str, Any]) -> bool:
    return "__class__" in node or "__module__" in node


def _json_value(node: dict[str, Any]) -> str:
    """A JsonNode's value (its content is JSON text when ``is_json``)."""
    if not node.get("is_json"):
        return str(node["content"])
    try:
        return str(json.loads(node["content"]))
    except ValueError as exc:
        raise UntrustedModelType(f"the artifact's schema holds a malformed value: {exc}") from exc


def recorded_sklearn_versions(payload: bytes) -> set[str]:
    """The scikit-learn versions the file's estimators were saved by (each estimator's state records one)."""
    versions = set()
    for node in _nodes(object_schema(payload)):
        state = node.get("content") if node.get("__loader__") == "DictNode" else None
        recorded = state.get("_sklearn_version") if isinstance(state, dict) else None
        if isinstance(recorded, dict) and isinstance(recorded.get("content"), str):
            versions.add(_json_value(recorded))
    return versions


def refuse_untrusted(payload: bytes, also_named: set[str] | None = None) -> list[str]:
    """The artifact's types, all allowed; UntrustedModelType naming every one that is not."""
    named = artifact_types(payload)
    untrusted = sorted((named | (also_named or set())) - ALLOWED_TYPES)
    if untrusted:
        raise UntrustedModelType(
            "the model artifact holds type(s) outside the allow-list of scikit-learn and LightGBM classes: "
            + ", ".join(untrusted)
        )
    return sorted(named)
