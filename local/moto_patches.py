"""Every private moto method the local stack replaces, in one register, applied in one place.

The embedded AWS is moto plus what moto leaves out. Where that means replacing one of moto's private methods, the
replacement lives in the module of the service it emulates (``local/runtime.py`` for Lambda, ``local/emulated/`` for
the rest), and it is put in place only here: ``apply()`` (idempotent, called by ``LocalStack.start``) is the one
assignment to a moto attribute in ``local/`` (``tests/unit/test_moto_patches.py`` checks that with ``ast``).

Each record names its target (module, class or None for a module-level function, attribute), the replacement, the moto
version it was written against, why it exists, and the sha256 of the original's source in that version. moto is pinned
(requirements-dev.txt); when it changes, the guard test names each record whose original changed, and, where a probe
can show it, each feature moto has gained (the patch should then go). Reading moto's private names without replacing
them (``local/state.py`` builds finished executions the way moto's StartExecution does) is not a patch.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local import runtime
from local.emulated import (
    atomicity,
    definition_checks,
    distributed_map,
    emf,
    firehose,
    quotas,
    sagemaker_training,
    sfn_integrations,
)

MOTO_VERSION = "5.2.5"  # what every record below was written against

_SFN = "moto.stepfunctions.parser"
_STATE_TASK = f"{_SFN}.asl.component.state.exec.state_task"
_STATE_MAP = f"{_SFN}.asl.component.state.exec.state_map"


class MotoPatchConflict(RuntimeError):
    """A target holds neither moto's original nor the replacement: something else replaced it."""


@dataclass(frozen=True)
class MotoPatch:
    module: str  # the module that holds the target
    owner: str | None  # the class in that module, or None for a module-level function
    attribute: str
    replacement: Callable[..., Any]
    reason: str  # why the local stack needs it, in one line
    source_sha256: str  # sha256 of inspect.getsource(original) in moto `written_for`
    written_for: str = MOTO_VERSION
    # moto's own, read when the register is built (before any apply): what the guard hashes and apply replaces
    original: Callable[..., Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "original", getattr(self.target(), self.attribute))

    @property
    def name(self) -> str:
        return f"{self.owner or self.module.rsplit('.', 1)[-1]}.{self.attribute}"

    def target(self) -> type | ModuleType:
        module = importlib.import_module(self.module)
        return getattr(module, self.owner) if self.owner else module

    def applied(self) -> bool:
        return getattr(self.target(), self.attribute) is self.replacement

    def apply(self) -> None:
        target = self.target()
        current = getattr(target, self.attribute)
        if current is self.replacement:
            return
        if current is not self.original:
            raise MotoPatchConflict(f"{self.module}.{self.name} holds {current!r}, not moto's original")
        as_defined = inspect.getattr_static(target, self.attribute)
        value = staticmethod(self.replacement) if isinstance(as_defined, staticmethod) else self.replacement
        setattr(target, self.attribute, value)


def _dynamodb(method: str, digest: str) -> MotoPatch:
    return MotoPatch(
        "moto.dynamodb.models",
        "DynamoDBBackend",
        method,
        atomicity.SERIALISED[method],
        "moto applies conflicting DynamoDB writes without a lock; DynamoDB serialises them (version allocation)",
        digest,
    )


PATCHES: tuple[MotoPatch, ...] = (
    MotoPatch(
        "moto.awslambda.models",
        "LambdaFunction",
        "_invoke_lambda",
        runtime._patched_invoke,
        "moto runs a function's code only in Docker; the local runtime runs the real handler without it",
        "23ce7a8f956e8090eaf8a3a4de498cf938c79db073ab0284b988f1aed8719f5f",
    ),
    _dynamodb("put_item", "f5d9a5042c77b89e5f4c88b5884f7966b9dccd95b8b04090ee9e07afc5eea675"),
    _dynamodb("update_item", "218984588dd689a5de81678ce11e6a40d05c91e7b6c21b44c4ed4122fe74aa9f"),
    _dynamodb("delete_item", "083a4bb1af18f6fd2feef40195a4c9c803da66cb2cacd14f87916c6e76930ea5"),
    _dynamodb("transact_write_items", "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4"),
    _dynamodb("get_item", "290b95c46b38bc5ac8079668e9c449bba9b6b26f4a2872d80ca262115023e189"),
    _dynamodb("query", "b8f2b308cd13edb48bb59ab0321ec3f935605629acb1d1ed634ba9f2bbcb107e"),
    _dynamodb("scan", "9b5227800f9a320c0ef714bc5105e1504f47773be265847590e965a878f2e108"),
    MotoPatch(
        "moto.firehose.models",
        "FirehoseBackend",
        "send_log_event",
        firehose._send_log_event,
        "moto ignores subscription filter patterns, message extraction and dynamic partitioning (capture path)",
        "f16420f65d1e610f4ccb81b15bd0de55cef3e3779d6146ad026796eaacc65606",
    ),
    MotoPatch(
        f"{_STATE_TASK}.service.state_task_service_sfn",
        "StateTaskServiceSfn",
        "_normalise_parameters",
        sfn_integrations._parameters,
        "moto passes the ASL's StartExecution parameter names (StateMachineArn, Input) to botocore unmapped",
        "d75d3da19aad01fb6166a22a30955b50a9c0f5c5da6707e492f9757c455bcb6c",
    ),
    MotoPatch(
        f"{_STATE_TASK}.service.state_task_service_sfn",
        "StateTaskServiceSfn",
        "_normalise_response",
        sfn_integrations._response,
        "moto hands the API's result names (executionArn) to the ASL, which reads ExecutionArn",
        "00e0b0a50b1dd4baea457d318dcc88928f27a633d3383c6224ae47c17eedbc87",
    ),
    MotoPatch(
        f"{_SFN}.asl.eval.states",
        "ContextObject",
        "update_task_token",
        sfn_integrations._task_token,
        "moto draws callback task tokens at random; events/ replays need the same token for the same execution",
        "16d3cd21a9fc8463ded4dbe92a4dbdae27754b418b6b45aff7ed9e9bf31d4d32",
    ),
    MotoPatch(
        f"{_STATE_TASK}.state_task_factory",
        None,
        "state_task_service_for",
        sagemaker_training._state_task_service_for,
        "moto lists sagemaker as unsupported; createTrainingJob.sync runs the training job in-process",
        "a21a16afc5f63679e4968dc9a7da9f2ee5a18c29b6b166220b4c2507d7401769",
    ),
    MotoPatch(
        f"{_SFN}.asl.component.common.error_name.error_equals_decl",
        "ErrorEqualsDecl",
        "_eval_body",
        quotas._error_equals,
        "moto's States.ALL catches States.DataLimitExceeded and States.Runtime; AWS's does not",
        "aeda14a0cc01747d7fe2e620ba35c9c78b43178fbb03665b8578c206f196b019",
    ),
    MotoPatch(
        f"{_STATE_MAP}.iteration.itemprocessor.distributed_item_processor_worker",
        "DistributedItemProcessorWorker",
        "_eval_input",
        distributed_map._eval_input,
        "a Distributed Map's ResultWriter files need each item's input after ItemSelector, which moto drops",
        "c8a62d1f4864ec80d774a77d4a582cdf50ad6a56c51499f0bc50e3a7102ad843",
    ),
    MotoPatch(
        f"{_STATE_MAP}.iteration.itemprocessor.distributed_item_processor_worker",
        "DistributedItemProcessorWorker",
        "_eval_job",
        distributed_map._eval_job,
        "a Distributed Map's ResultWriter files need each child execution's outcome, which moto drops",
        "c97e0ed4aba18b55041cf230e08702bac92d4aa7ad4f891330dd7a5fa906a72c",
    ),
    MotoPatch(
        f"{_STATE_MAP}.iteration.distributed_iteration_component",
        "DistributedIterationComponent",
        "_map_run",
        distributed_map._map_run,
        "moto parses ToleratedFailurePercentage/Count and never applies them (States.ExceedToleratedFailureThreshold)",
        "e45cb604929ff3468863fd1b485b32f379489ef43e67b4718145de9ef4e160d8",
    ),
    MotoPatch(
        f"{_STATE_MAP}.result_writer.resource_eval.resource_eval_s3",
        "ResourceEvalS3",
        "_handle_put_object",
        distributed_map._put_object,
        "moto's ResultWriter writes an empty manifest.json and drops the results (SUCCEEDED_0.json, FAILED_0.json)",
        "0613338ea09e12abf15374bd5ceae9d67ec9320b6e88a63b9f5d51c9dbbc65bd",
    ),
    MotoPatch(
        f"{_STATE_MAP}.result_writer.result_writer_decl",
        "ResultWriter",
        "_eval_body",
        distributed_map._result_writer,
        "moto evaluates a ResultWriter's Parameters paths against the items' results, AWS against the state's input",
        "bcde5765f0a578a3c5e287e9591da31261c18935e3e611a29a4a08d938e6cfea",
    ),
    MotoPatch(
        f"{_SFN}.models",
        "StepFunctionsParserBackend",
        "_validate_definition",
        definition_checks._validate_definition,
        "moto parses a definition on every CreateStateMachine (most of a second for the pipeline's): once per text",
        "a5921e3d3b46dcd341ec3a64e61af486cd2f843751a1890e07e9ea0f0008569b",
    ),
    MotoPatch(
        f"{_SFN}.backend.execution_worker",
        "ExecutionWorker",
        "_get_evaluation_entrypoint",
        definition_checks._get_evaluation_entrypoint,
        "moto parses the definition again on every StartExecution: executions share one parse per text",
        "2b25949ae855da8035b347b28ac72f90d7d6542bf26ef7e1f03a50ce6a981fde",
    ),
    MotoPatch(
        "moto.logs.models",
        "LogsBackend",
        "put_log_events",
        emf._put_log_events,
        "moto stores embedded-metric-format log lines without turning them into CloudWatch metrics",
        "9413dbc08c425c247e3f79568d04f2043b2a45ca75523ed41a212f50ef58461e",
    ),
    MotoPatch(
        "moto.cloudwatch.models",
        "Statistics",
        "get_statistics_for_type",
        emf._statistic,
        "moto's GetMetricData answers no percentile statistics (pNN), which the canary bake reads",
        "d10becd72eee65f1147ff456b34f05c52b54fbb27ccbb8131b3703a81d81a8d6",
    ),
)


def apply() -> None:
    """Put every replacement in place of moto's original (again: nothing changes)."""
    for patch in PATCHES:
        patch.apply()


def applied() -> bool:
    return all(patch.applied() for patch in PATCHES)
