"""Guards of the moto patches register (local/moto_patches.py): every replaced private moto method is the one it was
written against (moto's version and the sha256 of the original's source), moto still lacks what the replacement adds
(a probe on the original, where one can show it), and no module of local/ but the register replaces moto's
attributes."""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import moto
import pytest
from moto.cloudwatch.models import MetricDatum, Statistics
from moto.firehose.models import FirehoseBackend
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import ResultWriter
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.parse import preprocessor
from moto.stepfunctions.parser.utils import long_uid

from local import moto_patches
from local.moto_patches import PATCHES, MotoPatch, MotoPatchConflict

LOCAL = Path(moto_patches.__file__).resolve().parent
MOTO = Path(moto.__file__).resolve().parent
NAMES = [patch.name for patch in PATCHES]


def by_name(name: str) -> MotoPatch:
    (patch,) = [patch for patch in PATCHES if patch.name == name]
    return patch


def source_sha256(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def moto_package_mentions(package: str, pattern: str) -> list[str]:
    """The files of one of moto's packages whose source matches ``pattern``."""
    return [
        str(path.relative_to(MOTO))
        for path in sorted((MOTO / package).rglob("*.py"))
        if re.search(pattern, path.read_text(errors="replace"))
    ]


# ---- probes: True while the unpatched moto still lacks what the replacement adds ------------------------------
def _runs_lambda_in_docker(original: Any) -> bool:
    return list(inspect.signature(original).parameters) == ["self", "event"] and "docker" in inspect.getsource(original)


def _dynamodb_has_no_lock(original: Any) -> bool:
    return not moto_package_mentions("dynamodb", r"\bR?Lock\b|\bSemaphore\b")


def _firehose_ignores_processing(original: Any) -> bool:
    return "gzip" in inspect.getsource(original) and not moto_package_mentions(
        "firehose", r"partitionKeyFromQuery|MetadataExtraction|filterPattern"
    )


def _asl_start_execution_names_unmapped(original: Any) -> bool:
    parameters = {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "Input": "{}"}
    original(StateTaskServiceSfn.__new__(StateTaskServiceSfn), parameters, None, "start_execution")
    return "StateMachineArn" in parameters and "stateMachineArn" not in parameters


def _api_result_names_unmapped(original: Any) -> bool:
    response = {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e"}
    original(StateTaskServiceSfn.__new__(StateTaskServiceSfn), response, None, "start_execution")
    return "ExecutionArn" not in response


def _task_tokens_are_random(original: Any) -> bool:
    # each token a fresh uuid4 (moto's long_uid): nothing derives it from the execution and the state
    return "long_uid()" in inspect.getsource(original) and "uuid4" in inspect.getsource(long_uid)


def _sagemaker_unsupported(original: Any) -> bool:
    return type(original("sagemaker")).__name__ == "StateTaskServiceUnsupported"


def _states_all_catches_data_limit(original: Any) -> bool:
    declaration = ErrorEqualsDecl([StatesErrorName(typ=StatesErrorNameType.StatesALL)])
    env = SimpleNamespace(stack=[StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded)])
    original(declaration, env)
    return env.stack == [True]


def _result_writer_drops_results(original: Any) -> bool:
    return "TODO: generate result files" in inspect.getsource(by_name("ResourceEvalS3._handle_put_object").original)


def _tolerated_failures_ignored(original: Any) -> bool:
    return "currently have no effect on the program evaluation" in inspect.getsource(preprocessor)


def _result_writer_parameters_see_the_results(original: Any) -> bool:
    writer = ResultWriter.__new__(ResultWriter)
    seen: list[Any] = []
    writer.parargs = SimpleNamespace(eval=lambda env: seen.append(env.stack[-1]))
    writer.resource_eval = SimpleNamespace(eval_resource=lambda env: None)
    env = SimpleNamespace(stack=["the items' results"], states=SimpleNamespace(get_input=lambda: "the state's input"))
    original(writer, env)
    return seen == ["the items' results"]


def _parses_every_time(original: Any) -> bool:
    source = inspect.getsource(original)
    return "AmazonStateLanguageParser.parse(" in source and "cache" not in source


def _logs_know_no_embedded_metrics(original: Any) -> bool:
    return not moto_package_mentions("logs", "CloudWatchMetrics") and not moto_package_mentions(
        "cloudwatch", "CloudWatchMetrics"
    )


def _no_percentile_statistics(original: Any) -> bool:
    statistics = Statistics(["p90"], datetime.now(UTC))
    statistics.metric_data = [
        MetricDatum(namespace="n", name="m", value=float(value), dimensions=[], timestamp=None) for value in range(10)
    ]
    return original(statistics, "p90") is None


PROBES = {
    "LambdaFunction._invoke_lambda": _runs_lambda_in_docker,
    **{
        f"DynamoDBBackend.{method}": _dynamodb_has_no_lock
        for method in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan")
    },
    "FirehoseBackend.send_log_event": _firehose_ignores_processing,
    "StateTaskServiceSfn._normalise_parameters": _asl_start_execution_names_unmapped,
    "StateTaskServiceSfn._normalise_response": _api_result_names_unmapped,
    "ContextObject.update_task_token": _task_tokens_are_random,
    "state_task_factory.state_task_service_for": _sagemaker_unsupported,
    "ErrorEqualsDecl._eval_body": _states_all_catches_data_limit,
    "DistributedItemProcessorWorker._eval_input": _result_writer_drops_results,
    "DistributedItemProcessorWorker._eval_job": _result_writer_drops_results,
    "DistributedIterationComponent._map_run": _tolerated_failures_ignored,
    "ResourceEvalS3._handle_put_object": _result_writer_drops_results,
    "ResultWriter._eval_body": _result_writer_parameters_see_the_results,
    "StepFunctionsParserBackend._validate_definition": _parses_every_time,
    "ExecutionWorker._get_evaluation_entrypoint": _parses_every_time,
    "LogsBackend.put_log_events": _logs_know_no_embedded_metrics,
    "Statistics.get_statistics_for_type": _no_percentile_statistics,
}


# ---- the register ---------------------------------------------------------------------------------------------
def test_every_patch_has_a_probe_and_a_unique_name():
    assert len(set(NAMES)) == len(NAMES)
    assert sorted(PROBES) == sorted(NAMES)


@pytest.mark.parametrize("patch", PATCHES, ids=NAMES)
def test_moto_is_the_version_the_patch_was_written_for_and_the_original_is_unchanged(patch):
    # A failure here: moto changed under this patch; read the new original, revisit the replacement, re-record.
    assert moto.__version__ == patch.written_for
    assert source_sha256(patch.original) == patch.source_sha256, f"moto's {patch.module}.{patch.name} changed"


@pytest.mark.parametrize("patch", PATCHES, ids=NAMES)
def test_moto_still_lacks_what_the_patch_adds(patch):
    # A failure here: moto does it now; the patch should go (its tests say whether moto's way suffices).
    assert PROBES[patch.name](patch.original)


# Probes that run the function they are given: on the replacement (moto with the feature) each must say "has it".
BEHAVIOURAL_PROBES = [
    "StateTaskServiceSfn._normalise_parameters",
    "StateTaskServiceSfn._normalise_response",
    "state_task_factory.state_task_service_for",
    "ErrorEqualsDecl._eval_body",
    "ResultWriter._eval_body",
    "Statistics.get_statistics_for_type",
]


@pytest.mark.parametrize("name", BEHAVIOURAL_PROBES)
def test_a_behavioural_probe_fails_once_moto_has_the_feature(name):
    assert not PROBES[name](by_name(name).replacement)


@pytest.mark.parametrize("patch", PATCHES, ids=NAMES)
def test_each_record_names_a_real_moto_target_and_says_why(patch):
    assert patch.module.startswith("moto.")
    assert patch.original is not patch.replacement
    assert patch.reason and len(patch.reason) <= 120 and "\n" not in patch.reason
    assert re.fullmatch(r"[0-9a-f]{64}", patch.source_sha256)


def test_apply_puts_every_replacement_in_place_once():
    moto_patches.apply()
    moto_patches.apply()  # a second stack in the same process

    for patch in PATCHES:
        target = patch.target()
        assert getattr(target, patch.attribute) is patch.replacement, patch.name
        as_defined = inspect.getattr_static(target, patch.attribute)
        if isinstance(as_defined, staticmethod):  # wrapped once, as moto's original was
            assert as_defined.__func__ is patch.replacement
    assert moto_patches.applied()


def test_apply_refuses_a_target_that_something_else_replaced(monkeypatch):
    patch = by_name("FirehoseBackend.send_log_event")
    monkeypatch.setattr(FirehoseBackend, "send_log_event", lambda *args: None)

    with pytest.raises(MotoPatchConflict, match="send_log_event"):
        patch.apply()


# ---- one room: no other module of local/ assigns to moto ---------------------------------------------------------
def _moto_names(tree: ast.AST) -> set[str]:
    """Names a module binds to moto's modules, classes or functions (its imports from moto)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] == "moto"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "moto":
            names |= {a.asname or a.name for a in node.names}
    return names


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def moto_assignments(source: str) -> list[str]:
    """Each assignment to an attribute of a moto object (``X.attr = ...``, ``del X.attr``, ``setattr(X, ...)``,
    ``delattr(X, ...)``) where X is, or is reached from, a name imported from moto: ``line: target``."""
    tree = ast.parse(source)
    moto_names = _moto_names(tree)
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and node.args
        ):
            if _root(node.args[0]) in moto_names:
                found.append(f"{node.lineno}: {node.func.id}({ast.unparse(node.args[0])}, ...)")
            continue
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple | ast.List) else [target]:
                if isinstance(element, ast.Attribute) and _root(element) in moto_names:
                    found.append(f"{element.lineno}: {ast.unparse(element)}")
    return found


def test_no_module_of_local_but_the_register_assigns_to_a_moto_attribute():
    offenders = {
        str(path.relative_to(LOCAL.parent)): moto_assignments(path.read_text())
        for path in sorted(LOCAL.rglob("*.py"))
        if path != Path(moto_patches.__file__).resolve()
    }
    assert {path: found for path, found in offenders.items() if found} == {}


@pytest.mark.parametrize(
    "source",
    [
        "from moto.firehose.models import FirehoseBackend\nFirehoseBackend.send_log_event = f",
        "from moto.firehose.models import FirehoseBackend as F\ndef install():\n    F.send_log_event = f",
        "from moto.firehose.models import FirehoseBackend\nsetattr(FirehoseBackend, 'send_log_event', f)",
        "import moto.firehose.models\nmoto.firehose.models.FirehoseBackend.send_log_event = f",
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory\n"
        "state_task_factory.state_task_service_for = f",
        "def install():\n    from moto.cloudwatch.models import Statistics\n    Statistics.a, Statistics.b = f, g",
        "from moto.logs.models import LogsBackend\ndel LogsBackend.put_log_events",
    ],
)
def test_the_one_room_check_finds_each_way_of_patching_moto(source):
    assert moto_assignments(source)


@pytest.mark.parametrize(
    "source",
    [
        "from moto.firehose.models import FirehoseBackend\n_original = FirehoseBackend.send_log_event",
        "from moto.stepfunctions.parser.backend.execution import Execution\n"
        "execution = Execution()\nexecution.error = 'States.Aborted'",  # a moto object's own field, not a patch
        "import os\nos.environ = {}",
    ],
)
def test_the_one_room_check_lets_reads_and_moto_objects_fields_be(source):
    assert moto_assignments(source) == []
