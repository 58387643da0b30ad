"""template.yaml against the code: what the template declares is what the handlers, the state machines and the
layers need. Everything is read from the template (local.template) and from the code, nothing is copied."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local.template import ROOT, function_environment, function_property, load_template, resources_of_type
from mlops import settings as settings_module
from mlops.settings import Settings
from tests.contract.resolution import branches, parameter_defaults, parameter_scenarios, resolve
from tests.contract.state_machines import PLACEHOLDER, StateMachineSource, lambda_target, state_machine_sources, walk
from tools.check_template import translate

TEMPLATE = load_template()
FUNCTIONS = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
LAYERS = resources_of_type(TEMPLATE, "AWS::Serverless::LayerVersion")
STATE_MACHINES = state_machine_sources(TEMPLATE)
RUNTIME = "python3.13"
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
# The Lambda Python runtime ships boto3 and its dependencies; nothing else is there unless a layer brings it.
LAMBDA_RUNTIME_PACKAGES = [Requirement("boto3")]
# CloudWatch Logs' log-delivery APIs take no resource ARN: AWS documents `Resource: "*"` for them.
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# Actions that accept no resource ARN (AWS documents Resource "*"): log delivery, ECR's sign-in token that a
# SageMaker training job needs to pull its image (every other ECR action it holds names the repository), and
# read-only actions IAM cannot scope to a resource.
UNSCOPABLE_READS = {"cloudwatch:GetMetricData"}
ACTIONS_WITHOUT_RESOURCES = LOG_DELIVERY_ACTIONS | UNSCOPABLE_READS | {"ecr:GetAuthorizationToken"}
INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::ImportValue"}


def properties(logical_id: str) -> dict[str, Any]:
    return TEMPLATE["Resources"][logical_id]["Properties"]


def handler_module_and_attribute(logical_id: str) -> tuple[str, str]:
    """`functions/train/` + `app.lambda_handler` -> (`functions.train.app`, `lambda_handler`)."""
    code_uri = (ROOT / properties(logical_id)["CodeUri"]).resolve()
    module, _, attribute = function_property(TEMPLATE, logical_id, "Handler").rpartition(".")
    return ".".join([*code_uri.relative_to(ROOT).parts, module]), attribute


def function_layers(template: dict[str, Any], logical_id: str) -> list[Any]:
    """SAM appends a function's own Layers to the Globals ones (lists merge, unlike scalar properties)."""
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    return [*global_layers, *template["Resources"][logical_id]["Properties"].get("Layers", [])]


def settings_classes_read_by(module: ModuleType) -> list[type]:
    """The settings classes (each lists the variables it reads) a handler module uses."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and (value.__module__ == settings_module.__name__ or value.__module__.startswith("mlops."))
        and hasattr(value, "ENVIRONMENT_VARIABLES")
    ]


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS


def requirements_in(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines()) if path.is_file() else ()
    return [Requirement(line) for line in lines if line]


def pinned_version(requirement: Requirement) -> str | None:
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version:
        return specifiers[0].version
    return None


ROOT_PINS = {canonicalize_name(r.name): pinned_version(r) for r in requirements_in(ROOT / "requirements.txt")}


# --- functions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_code_uri_is_a_package_whose_handler_is_callable(logical_id: str) -> None:
    code_uri = ROOT / properties(logical_id)["CodeUri"]
    assert (code_uri / "__init__.py").is_file(), f"{logical_id}: {code_uri} is not a package (no __init__.py)"

    module_name, attribute = handler_module_and_attribute(logical_id)
    handler = getattr(importlib.import_module(module_name), attribute, None)

    assert callable(handler), f"{logical_id}: {module_name}.{attribute} is not a callable"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_function_gets_every_environment_variable_its_code_reads(logical_id: str) -> None:
    module = importlib.import_module(handler_module_and_attribute(logical_id)[0])
    code_reads = {*Settings.ENVIRONMENT_VARIABLES}
    for settings_class in settings_classes_read_by(module):
        code_reads |= set(settings_class.ENVIRONMENT_VARIABLES)
    environment = function_environment(TEMPLATE, logical_id)

    missing = sorted((code_reads | POWERTOOLS_VARIABLES) - set(environment))
    assert not missing, f"{logical_id} reads {missing} but the template does not set them"
    hard_coded = {name: environment[name] for name in sorted(code_reads) if not is_intrinsic(environment[name])}
    assert not hard_coded, f"{logical_id}: settings must come from !Ref/!GetAtt, not literals: {hard_coded}"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_function_runs_the_lambda_runtime_of_the_design(logical_id: str) -> None:
    assert function_property(TEMPLATE, logical_id, "Runtime") == RUNTIME


@pytest.mark.parametrize("logical_id", sorted(LAYERS))
def test_layer_is_built_for_the_runtime_of_the_functions(logical_id: str) -> None:
    layer = LAYERS[logical_id]
    assert RUNTIME in layer["Properties"]["CompatibleRuntimes"]
    build_method = layer.get("Metadata", {}).get("BuildMethod")
    assert build_method in (RUNTIME, "makefile"), f"{logical_id}: sam build must build it"
    if build_method == "makefile":  # tools/build_layer.py installs and trims it for the runtime and architecture
        makefile = ROOT / layer["Properties"]["ContentUri"] / "Makefile"
        assert f"build-{logical_id}:" in makefile.read_text(), f"{makefile} has no build-{logical_id} target"
        assert layer["Metadata"].get("BuildArchitecture") == {"Ref": "Architecture"}


def core_layer() -> str:
    """The layer that ships the mlops package."""
    (logical_id,) = [
        name for name, layer in LAYERS.items() if (ROOT / layer["Properties"]["ContentUri"] / "mlops").is_dir()
    ]
    return logical_id


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_function_always_has_the_core_layer(logical_id: str) -> None:
    layers = function_layers(TEMPLATE, logical_id)

    assert {"Ref": core_layer()} in layers, f"{logical_id} imports mlops: it needs {core_layer()} unconditionally"


# --- the layers ship what each handler imports --------------------------------------------------------------------

IMPORT_AS_LAMBDA_DOES = """
import importlib, importlib.abc, json, sys, traceback

spec = json.load(sys.stdin)
blocked = set(spec["blocked"])

class OnlyWhatTheFunctionGets(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname in blocked:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: not in the function's layers, its requirements or the Lambda runtime",
                name=fullname,
            )
        return None

sys.meta_path.insert(0, OnlyWhatTheFunctionGets())
sys.path[:0] = spec["layer_paths"]
for function, code_dir, handler in spec["handlers"]:
    module_name, _, attribute = handler.rpartition(".")
    sys.path.insert(0, code_dir)
    try:
        module = importlib.import_module(module_name)
        error = None if callable(getattr(module, attribute, None)) else f"{handler} is not callable"
    except BaseException:
        error = traceback.format_exc()
    sys.path.remove(code_dir)
    for name, module in list(sys.modules.items()):  # the next function's `app` is another module
        if (getattr(module, "__file__", None) or "").startswith(code_dir + "/"):
            del sys.modules[name]
    print(json.dumps({"function": function, "error": error}), flush=True)
"""


def installed_closure(requirements: Iterable[Requirement]) -> frozenset[str]:
    """The distributions pip installs for these requirements (as installed here): the names, with dependencies."""
    found: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        try:
            dependencies = [Requirement(text) for text in importlib.metadata.requires(name) or []]
        except importlib.metadata.PackageNotFoundError:
            continue
        extras = {"", *requirement.extras}
        pending += [d for d in dependencies if d.marker is None or any(d.marker.evaluate({"extra": e}) for e in extras)]
    return frozenset(found)


@dataclass(frozen=True)
class Sandbox:
    """What Lambda gives a function: its layers, the packages they and its own requirements install, the runtime's
    packages and its environment. Functions that get the same are imported in one interpreter, one after another."""

    layers: tuple[str, ...]
    packages: frozenset[str]
    environment: tuple[tuple[str, str], ...]

    def import_handlers(self, handlers: list[tuple[str, Path, str]]) -> dict[str, str | None]:
        """Each function's import error (a traceback), or None when its handler imported and is callable."""
        spec = {
            "blocked": sorted(
                top
                for top, distributions in importlib.metadata.packages_distributions().items()
                if not any(canonicalize_name(name) in self.packages for name in distributions)
            ),
            "layer_paths": [str(ROOT / LAYERS[layer]["Properties"]["ContentUri"]) for layer in self.layers],
            "handlers": [(logical_id, str(code_dir), handler) for logical_id, code_dir, handler in handlers],
        }
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **dict(self.environment),
        }
        result = subprocess.run(
            [sys.executable, "-I", "-c", IMPORT_AS_LAMBDA_DOES],
            input=json.dumps(spec),
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        errors: dict[str, str | None] = {
            logical_id: f"the interpreter died:\n{result.stderr}" for logical_id, *_ in handlers
        }
        errors |= {line["function"]: line["error"] for line in map(json.loads, result.stdout.splitlines())}
        return errors


def sandboxes(template: dict[str, Any]) -> dict[Sandbox, list[tuple[str, Path, str]]]:
    """Each function in every sandbox the parameters that conditions test can give it."""
    conditions = template.get("Conditions", {})
    grouped: dict[Sandbox, list[tuple[str, Path, str]]] = {}
    for scenario in parameter_scenarios(template):
        parameters = parameter_defaults(template) | scenario
        for logical_id in FUNCTIONS:
            layers = resolve(function_layers(template, logical_id), parameters, conditions)
            layer_refs = tuple(layer["Ref"] if isinstance(layer, dict) else str(layer) for layer in layers)
            code_dir = ROOT / properties(logical_id)["CodeUri"]
            folders = [code_dir, *(ROOT / LAYERS[layer]["Properties"]["ContentUri"] for layer in layer_refs)]
            requirements = [r for folder in folders for r in requirements_in(folder / "requirements.txt")]
            environment = resolve(function_environment(template, logical_id), parameters, conditions)
            sandbox = Sandbox(
                layer_refs,
                installed_closure(requirements + LAMBDA_RUNTIME_PACKAGES),
                tuple((k, v if isinstance(v, str) else f"offline-{k.lower()}") for k, v in sorted(environment.items())),
            )
            handler = (logical_id, code_dir, function_property(template, logical_id, "Handler"))
            if handler not in grouped.setdefault(sandbox, []):
                grouped[sandbox].append(handler)
    return grouped


@pytest.fixture(scope="module")
def cold_start_errors() -> dict[str, list[tuple[str, str | None]]]:
    """function -> [(its layers, its import error or None)], every sandbox at once, each in a fresh interpreter."""
    grouped = sandboxes(TEMPLATE)
    with ThreadPoolExecutor(max_workers=len(grouped) or 1) as pool:
        results = list(pool.map(Sandbox.import_handlers, grouped, grouped.values()))
    errors: dict[str, list[tuple[str, str | None]]] = {}
    for sandbox, result in zip(grouped, results, strict=True):
        for logical_id, error in result.items():
            errors.setdefault(logical_id, []).append((", ".join(sandbox.layers), error))
    return errors


def where_it_failed(stderr: str) -> str:
    """The last frame in this repository's code and the error: enough to see which import broke."""
    lines = stderr.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.strip().startswith(f'File "{ROOT}/') and "/.venv" not in line]
    shown = lines[frames[-1] : frames[-1] + 2] if frames else []
    return "\n".join([*shown, lines[-1] if lines else "(no output)"])


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_layers_ship_everything_the_handler_imports(
    logical_id: str, cold_start_errors: dict[str, list[tuple[str, str | None]]]
) -> None:
    # Given the handler imported as Lambda imports it: from its CodeUri, with only its layers' directories, the
    # packages their requirements install and the runtime's boto3 importable, with the template's environment
    # When its module is imported in a fresh interpreter (once for each set of layers the parameters can give it)
    # Then the import succeeds: no module the handler needs at cold start is missing from what is deployed
    failures = [
        f"{logical_id} with {layers}:\n{where_it_failed(error)}"
        for layers, error in cold_start_errors[logical_id]
        if error is not None
    ]
    assert cold_start_errors[logical_id], f"{logical_id} was never imported"
    assert not failures, "\n".join(failures)


# --- state machines ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", STATE_MACHINES, ids=lambda source: source.logical_id)
def test_definition_substitutions_are_exactly_the_asl_placeholders(source: StateMachineSource) -> None:
    assert set(source.substitutions) == source.placeholders()


@pytest.mark.parametrize("source", STATE_MACHINES, ids=lambda source: source.logical_id)
def test_each_substitution_is_the_arn_of_the_resource_it_names(source: StateMachineSource) -> None:
    resources = TEMPLATE["Resources"]
    for key, value in source.substitutions.items():
        if key in TEMPLATE["Parameters"]:  # `TrainingImageUri: !Ref TrainingImageUri`: a parameter, as given
            assert value == {"Ref": key}, f"{key} must be !Ref {key}, not {value}"
            continue
        if key.endswith("Name"):  # `ArtifactsBucketName: !Ref ArtifactsBucket`: the resource's physical name
            assert value == {"Ref": key.removesuffix("Name")}, f"{key} must be !Ref {key.removesuffix('Name')}"
            continue
        # `PrepareFunctionArn: !GetAtt PrepareFunction.Arn`: the key names the resource, the value is its ARN
        target = key.removesuffix("Arn")
        assert key.endswith("Arn") and target in resources, f"{key}: no resource {target} in the template"
        if target in FUNCTIONS:
            assert value == {"Fn::GetAtt": [target, "Arn"]}, f"{key} must be !GetAtt {target}.Arn, not {value}"
        else:
            assert value in ({"Ref": target}, {"Fn::GetAtt": [target, "Arn"]}), f"{key} is not {target}'s ARN"


def invoked_functions(source: StateMachineSource) -> set[str]:
    functions = set()
    for found in walk(source.definition()):
        target = lambda_target(found.state)
        if target is None:
            continue
        placeholder = PLACEHOLDER.fullmatch(target)
        assert placeholder, f"{source.logical_id}/{found.path} invokes {target!r}: use a DefinitionSubstitutions key"
        functions.add(placeholder.group(1).removesuffix("Arn"))
    return functions


def invoke_grants(logical_id: str) -> set[str]:
    grants = set()
    for policy in properties(logical_id).get("Policies", []):
        for branch in branches(policy):
            if isinstance(branch, dict) and "LambdaInvokePolicy" in branch:
                grants.add(branch["LambdaInvokePolicy"]["FunctionName"]["Ref"])
    return grants


@pytest.mark.parametrize("source", STATE_MACHINES, ids=lambda source: source.logical_id)
def test_state_machine_may_invoke_exactly_the_functions_it_invokes(source: StateMachineSource) -> None:
    invoked, granted = invoked_functions(source), invoke_grants(source.logical_id)

    assert invoked, "the ASL invokes no function: the walk found no Lambda task"
    assert not invoked - granted, f"no LambdaInvokePolicy for {sorted(invoked - granted)}"
    assert not granted - invoked, f"LambdaInvokePolicy for functions the ASL never invokes: {sorted(granted - invoked)}"


# --- IAM and storage ----------------------------------------------------------------------------------------------


@pytest.fixture
def translated_template() -> dict[str, Any]:
    """What CloudFormation deploys: the SAM translation, which expands policy templates into statements."""
    return translate(load_template(), ROOT)


def allow_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        resource_properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [
                (f"{logical_id}/{branch['PolicyName']}", branch["PolicyDocument"])
                for policy in resource_properties.get("Policies", [])
                for branch in branches(policy)
            ]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [(logical_id, resource_properties["PolicyDocument"])]
        else:
            continue
        for where, document in documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                if statement.get("Effect") == "Allow":
                    yield where, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_grants_on_every_resource_but_actions_that_take_none(translated_template: dict[str, Any]) -> None:
    statements = list(allow_statements(translated_template))
    wildcard = {
        where: statement["Action"]
        for where, statement in statements
        if "*" in as_list(statement.get("Resource", []))
        and not set(as_list(statement["Action"])) <= ACTIONS_WITHOUT_RESOURCES
    }

    assert len(statements) > len(FUNCTIONS), "the walk found too few statements to mean anything"
    assert not wildcard, f"Resource '*' where a resource can be named: {wildcard}"


@pytest.mark.parametrize("logical_id", sorted(resources_of_type(TEMPLATE, "AWS::S3::Bucket")))
@pytest.mark.parametrize("scenario", parameter_scenarios(TEMPLATE), ids=lambda scenario: ",".join(scenario.values()))
def test_bucket_is_versioned_encrypted_private_and_tls_only(logical_id: str, scenario: dict[str, str]) -> None:
    parameters = {**parameter_defaults(TEMPLATE), **scenario}
    bucket = resolve(properties(logical_id), parameters, TEMPLATE.get("Conditions", {}))
    encryption = bucket.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    public_access = bucket.get("PublicAccessBlockConfiguration", {})
    deny_statements = [
        statement
        for policy in resources_of_type(TEMPLATE, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": logical_id}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]

    assert bucket.get("VersioningConfiguration", {}).get("Status") == "Enabled"
    assert encryption, "no default encryption"
    assert all(
        rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse")
        for rule in encryption
    )
    assert {name: public_access.get(name) for name in public_access} == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    ), f"public access is not fully blocked: {public_access}"
    assert any(
        str(statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        for statement in deny_statements
    ), "no bucket policy denies requests without TLS"


# --- pins ---------------------------------------------------------------------------------------------------------


def test_every_runtime_requirement_is_pinned() -> None:
    assert ROOT_PINS, "requirements.txt lists nothing"
    assert not [name for name, version in ROOT_PINS.items() if version is None], "pin each with =="


def installed_requirement_files() -> list[Path]:
    """The requirements.txt files `sam build` installs: each function's and each layer's."""
    folders = [ROOT / properties(name)["CodeUri"] for name in FUNCTIONS]
    folders += [ROOT / layer["Properties"]["ContentUri"] for layer in LAYERS.values()]
    return sorted({folder.resolve() / "requirements.txt" for folder in folders})


@pytest.mark.parametrize(
    "path",
    installed_requirement_files(),
    ids=lambda path: str(path.relative_to(ROOT)).removesuffix("/requirements.txt"),
)
def test_what_sam_build_installs_is_pinned_as_in_requirements_txt(path: Path) -> None:
    deployed = {canonicalize_name(r.name): pinned_version(r) for r in requirements_in(path)}
    differing = {
        name: f"{version} here, {ROOT_PINS.get(name, 'absent')} in requirements.txt"
        for name, version in deployed.items()
        if version is None or ROOT_PINS.get(name) != version
    }

    assert not differing, differing
