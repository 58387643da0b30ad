"""Tree regressors as ONNX ``TreeEnsemble`` (ai.onnx.ml opset 5) in double precision.

skl2onnx 1.20 emits ``TreeEnsembleRegressor`` (ai.onnx.ml opsets 1 and 3), whose onnxruntime kernel is float32
only: a double model is refused ("Type Error ... TreeEnsembleRegressor"), and in float32 the preprocessing
(scaling) lands a few ulps from scikit-learn's, so rows sitting on a split take the other branch (targets in the
tens of thousands then differ by whole leaves). ``TreeEnsemble`` (onnx 1.16+, onnxruntime 1.31 here) runs in
double. This converter writes it from the fitted trees: scikit-learn's thresholds and leaf values exactly
(float64), and the tree's input cast to float32 and back first, because scikit-learn's trees compare float32
features with float64 thresholds. The forest's average is the ensemble's AVERAGE aggregation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TREE_ENSEMBLE_OPSET = 5  # ai.onnx.ml opset of the TreeEnsemble operator
# skl2onnx 1.20 refuses to write an ai.onnx.ml opset above 3 ("version 5 of domain 'ai.onnx.ml' not supported yet
# by this library"): the node is added under 3 and the model's import raised to 5 afterwards (raise_ml_opset).
SKL2ONNX_MAX_ML_OPSET = 3
TREE_ENSEMBLE_IR_VERSION = 10  # the IR version of onnx 1.16, which introduced TreeEnsemble
BRANCH_LEQ = 0  # TreeEnsemble's nodes_modes value for "x <= split" (scikit-learn's test)
AGGREGATE_AVERAGE = 0
POST_TRANSFORM_NONE = 0
_LEAF = -1  # scikit-learn's children_left of a leaf


def _tree_attributes(trees: list[Any]) -> dict[str, Any]:
    """TreeEnsemble's node and leaf arrays for single-output regression trees."""
    from onnx import numpy_helper  # noqa: PLC0415 - the conversion layer ships onnx

    roots, features, splits, true_ids, true_leafs, false_ids, false_leafs = [], [], [], [], [], [], []
    leaf_weights: list[float] = []

    for tree in trees:
        left, right = tree.children_left, tree.children_right
        interior = [n for n in range(tree.node_count) if left[n] != _LEAF]
        leaves = [n for n in range(tree.node_count) if left[n] == _LEAF]
        node_index = {n: len(features) + i for i, n in enumerate(interior)}
        leaf_index = {n: len(leaf_weights) + i for i, n in enumerate(leaves)}
        leaf_weights.extend(float(tree.value[n].ravel()[0]) for n in leaves)

        def child(node: int) -> tuple[int, int]:
            return (leaf_index[node], 1) if left[node] == _LEAF else (node_index[node], 0)  # noqa: B023

        if not interior:  # a tree that never split: one branch whose both sides are its only leaf
            roots.append(len(features))
            features.append(0)
            splits.append(0.0)
            true_ids.append(leaf_index[0])
            true_leafs.append(1)
            false_ids.append(leaf_index[0])
            false_leafs.append(1)
            continue
        roots.append(node_index[0])
        for n in interior:
            features.append(int(tree.feature[n]))
            splits.append(float(tree.threshold[n]))
            true_id, true_is_leaf = child(int(left[n]))
            false_id, false_is_leaf = child(int(right[n]))
            true_ids.append(true_id)
            true_leafs.append(true_is_leaf)
            false_ids.append(false_id)
            false_leafs.append(false_is_leaf)

    return {
        "tree_roots": roots,
        "nodes_featureids": features,
        "nodes_splits": numpy_helper.from_array(np.asarray(splits, dtype=np.float64), "nodes_splits"),
        "nodes_modes": numpy_helper.from_array(np.full(len(features), BRANCH_LEQ, dtype=np.uint8), "nodes_modes"),
        "nodes_truenodeids": true_ids,
        "nodes_trueleafs": true_leafs,
        "nodes_falsenodeids": false_ids,
        "nodes_falseleafs": false_leafs,
        "leaf_targetids": [0] * len(leaf_weights),
        "leaf_weights": numpy_helper.from_array(np.asarray(leaf_weights, dtype=np.float64), "leaf_weights"),
        "n_targets": 1,
        "aggregate_function": AGGREGATE_AVERAGE,
        "post_transform": POST_TRANSFORM_NONE,
    }


def fitted_trees(estimator: Any) -> list[Any] | None:
    """The fitted trees of a single-output tree regressor or forest, or None when this converter does not apply."""
    if getattr(estimator, "n_outputs_", 1) != 1:
        return None
    if hasattr(estimator, "tree_"):
        return [estimator.tree_]
    if hasattr(estimator, "estimators_"):
        return [member.tree_ for member in estimator.estimators_]
    return None


def convert_tree_regressor(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter for DecisionTree/RandomForest/ExtraTrees regressors on double inputs."""
    from skl2onnx.common.data_types import DoubleTensorType  # noqa: PLC0415
    from skl2onnx.operator_converters.decision_tree import (  # noqa: PLC0415
        convert_sklearn_decision_tree_regressor,
    )
    from skl2onnx.operator_converters.random_forest import (  # noqa: PLC0415
        convert_sklearn_random_forest_regressor_converter,
    )
    from skl2onnx.proto import onnx_proto  # noqa: PLC0415

    estimator = operator.raw_operator
    trees = fitted_trees(estimator)
    if trees is None or not isinstance(operator.inputs[0].type, DoubleTensorType):
        if hasattr(estimator, "tree_"):
            convert_sklearn_decision_tree_regressor(scope, operator, container)
        else:
            convert_sklearn_random_forest_regressor_converter(scope, operator, container)
        return
    as_float = scope.get_unique_variable_name("tree_input_float32")
    as_double = scope.get_unique_variable_name("tree_input")
    container.add_node(
        "Cast",
        operator.inputs[0].full_name,
        as_float,
        to=onnx_proto.TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )
    container.add_node(
        "Cast", as_float, as_double, to=onnx_proto.TensorProto.DOUBLE, name=scope.get_unique_operator_name("Cast")
    )
    container.add_node(
        "TreeEnsemble",
        as_double,
        operator.outputs[0].full_name,
        op_domain="ai.onnx.ml",
        op_version=SKL2ONNX_MAX_ML_OPSET,
        name=scope.get_unique_operator_name("TreeEnsemble"),
        **_tree_attributes(trees),
    )


def raise_ml_opset(onnx_model: Any) -> None:
    """Import ai.onnx.ml at opset 5 where the graph holds a TreeEnsemble node (see SKL2ONNX_MAX_ML_OPSET)."""
    if not any(node.op_type == "TreeEnsemble" and node.domain == "ai.onnx.ml" for node in onnx_model.graph.node):
        return
    for opset in onnx_model.opset_import:
        if opset.domain == "ai.onnx.ml":
            opset.version = max(opset.version, TREE_ENSEMBLE_OPSET)
    onnx_model.ir_version = max(onnx_model.ir_version, TREE_ENSEMBLE_IR_VERSION)


def tree_regressor_converters() -> dict[type, Any]:
    from sklearn import ensemble, tree  # noqa: PLC0415

    regressors = (tree.DecisionTreeRegressor, ensemble.RandomForestRegressor, ensemble.ExtraTreesRegressor)
    return dict.fromkeys(regressors, convert_tree_regressor)
