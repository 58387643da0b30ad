"""Who can write what: the registry is the trust anchor, so the template's IAM is compared, role by role, with the
intended matrix written out below. Computed from the SAM translation (what CloudFormation deploys: policy templates
expanded into statements), every conditional branch included; nothing is copied from the template.

- DynamoDB: the write actions each role holds on each table. Only DeployFunction and ApiFunction write aliases; the
  audit table is insert-only (PutItem, and no role holds UpdateItem, DeleteItem or BatchWriteItem on it).
- S3: the object actions each role holds on each prefix of a bucket (reads too: each function reads only the
  prefixes it needs), and bucket-level actions (ListBucket) with the prefixes they are limited to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from local.template import ROOT, load_template
from tests.contract.resolution import branches
from tools.check_template import translate

ARN_PREFIXES = (
    "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/",
    "arn:${AWS::Partition}:s3:::",
    "arn:aws:s3:::",
)
DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:RestoreTableFromBackup",
}
TABLES = ("RegistryTable", "AliasTable", "AuditTable", "MonitorTable")
AUDIT_APPEND = {"AuditTable": ["dynamodb:PutItem"]}

# role -> table -> the write actions it holds (absent: none).
INTENDED_TABLE_WRITES: dict[str, dict[str, list[str]]] = {
    "RegisterFunctionRole": {
        "RegistryTable": ["dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        **AUDIT_APPEND,
    },
    "ApprovalFunctionRole": {"RegistryTable": ["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"], **AUDIT_APPEND},
    "RecordFailureFunctionRole": {
        "RegistryTable": ["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"],
        **AUDIT_APPEND,
    },
    "DeployFunctionRole": {
        "RegistryTable": ["dynamodb:ConditionCheckItem"],
        "AliasTable": ["dynamodb:DeleteItem", "dynamodb:PutItem"],
        **AUDIT_APPEND,
    },
    "ApiFunctionRole": {
        # UpdateItem: approval decisions (status) and version tags (`tags`, `tags_revision`)
        "RegistryTable": ["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"],
        "AliasTable": ["dynamodb:DeleteItem", "dynamodb:PutItem"],  # production and every named alias
        # PUT and DELETE /models/{name}/monitoring: the MONITOR item's config (DELETE: schedule disabled)
        "MonitorTable": ["dynamodb:UpdateItem"],
        **AUDIT_APPEND,
    },
    "ReproduceFunctionRole": dict(AUDIT_APPEND),
    "DriftFunctionRole": {"MonitorTable": ["dynamodb:PutItem", "dynamodb:UpdateItem"], **AUDIT_APPEND},
}

GET, PUT, LIST = "s3:GetObject", "s3:PutObject", "s3:ListBucket"
# SAM's S3ReadPolicy: one statement over the bucket and its objects (read-only either way)
_READ = ["s3:GetBucketLocation", "s3:GetLifecycleConfiguration", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
DATA_BUCKET_READ = {"DataBucketName": _READ, "DataBucketName/*": _READ}
FIREHOSE = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", LIST, "s3:ListBucketMultipartUploads", PUT]
# role -> "<bucket>/<prefix>" (or "<bucket>" for bucket-level actions, with their s3:prefix limits) -> actions.
INTENDED_S3: dict[str, dict[str, list[str]]] = {
    "PrepareFunctionRole": {
        "ArtifactsBucket/datasets/*": [GET],
        "ArtifactsBucket/runs/*": [PUT],
        # a request with `feedback`: captured rows joined with their labels, written as a dataset of their own
        "ArtifactsBucket/capture/*": [GET],
        "ArtifactsBucket/feedback/*": [GET],
        "ArtifactsBucket[s3:prefix=capture/*,feedback/*]": [LIST],
        "ArtifactsBucket/datasets/feedback/*": [PUT],
        **DATA_BUCKET_READ,
    },
    "PlanTrialsFunctionRole": {"ArtifactsBucket/runs/*": [GET, PUT]},
    "TrainFunctionRole": {"ArtifactsBucket/runs/*": [GET, PUT]},
    # the Distributed Map: its ItemReader reads the trial list, its ResultWriter writes the trials' results
    "TrainingPipelineRole": {
        "ArtifactsBucket/runs/*/trials/*": [GET],
        "ArtifactsBucket/runs/*/trial-results/*": [
            "s3:AbortMultipartUpload", GET, "s3:ListMultipartUploadParts", PUT
        ],
    },
    # a SageMaker training job: the run's splits and schema; one trial's artifact and result, SageMaker's upload
    "TrainingJobRole": {
        "ArtifactsBucket/runs/*": [GET],
        "ArtifactsBucket/runs/*/candidates/*": [PUT],
        "ArtifactsBucket/runs/*/training-jobs/*": [PUT],
    },
    "EvaluateFunctionRole": {"ArtifactsBucket/runs/*": [GET, PUT], "ArtifactsBucket/models/*": [GET]},
    "ConvertFunctionRole": {"ArtifactsBucket/runs/*": [GET, PUT]},
    "RegisterFunctionRole": {
        "ArtifactsBucket/runs/*": [GET],
        "ArtifactsBucket/models/*": [GET, PUT],
        "ArtifactsBucket/baselines/*": [GET, PUT],
        "ArtifactsBucket[s3:prefix=baselines/*,models/*]": [LIST],
        "ArtifactsBucket/prices/*": [GET],  # an optional PriceTableUri (the run's cost)
    },
    "PredictFunctionRole": {
        "ArtifactsBucket/models/*": [GET],
        "ArtifactsBucket/runs/*": [GET],
        # a shadow rollout's bake: production's capture is replayed (listed by prefix, read) and the shadow's
        # answers are written beside it, never anywhere else
        "ArtifactsBucket/capture/*": [GET],
        "ArtifactsBucket[s3:prefix=capture/*]": ["s3:ListBucket"],
        "ArtifactsBucket/shadow/*": [PUT],
    },
    "PredictSklearnFunctionRole": {"ArtifactsBucket/models/*": [GET]},
    "ReproduceFunctionRole": {
        "ArtifactsBucket/datasets/*": [GET],
        "ArtifactsBucket/models/*": [GET],
        "ArtifactsBucket/models/*/reproductions/*": [PUT],
        **DATA_BUCKET_READ,
    },
    "DriftFunctionRole": {
        "ArtifactsBucket/capture/*": [GET],
        "ArtifactsBucket/feedback/*": [GET],
        "ArtifactsBucket/baselines/*": [GET],
        "ArtifactsBucket/monitoring/*": [PUT],
        "ArtifactsBucket[s3:prefix=capture/*,feedback/*]": [LIST],
    },
    "ApiFunctionRole": {
        "ArtifactsBucket/models/*/card.json": [PUT],
        "ArtifactsBucket/models/*/card.md": [PUT],
        "ArtifactsBucket/feedback/*": [PUT],
        "ArtifactsBucket/models/*": [GET],  # a version's schema, leaderboard and input example (GET .../versions/{v})
        "ArtifactsBucket/monitoring/*": [GET],  # GET /models/{name}/monitoring/report; the dashboard's drift report
        "ArtifactsBucket/dashboards/*": [GET, PUT],  # POST /dashboard: the page, and the presigned URL's GET
        "ArtifactsBucket/predictions/*/summary.json": [GET],  # GET /models/{name}/batch-jobs/{job_id}
        # POST /uploads and /downloads presign with the role: PUT and GET of the dataset locations, GET of job files;
        # POST /models/{name}/external-versions reads an uploaded model with it (its sha256 and types)
        "ArtifactsBucket/datasets/*": [GET, PUT],
        "DataBucketName/*": [GET, PUT],
        "ArtifactsBucket/predictions/*": [GET],
        "ArtifactsBucket[s3:prefix=predictions/*]": [LIST],  # a download of a job's output/ prefix
    },
    "BatchFunctionRole": {
        "ArtifactsBucket/datasets/*": [GET],  # the inputs, in the locations POST .../batch-jobs allows
        **DATA_BUCKET_READ,
        "ArtifactsBucket/models/*": [GET],
        "ArtifactsBucket/predictions/*": [GET, PUT],  # plan, output and errors parts, chunk markers, summary
        "ArtifactsBucket/capture/*/batch-*": [PUT],  # the scored rows, where the drift check reads capture
        "ArtifactsBucket[s3:prefix=predictions/*]": [LIST],  # the chunk markers the finishing step counts
    },
    "BatchTransformRole": {"ArtifactsBucket/predictions/*/plan.json": [GET]},  # the Distributed Map's ItemReader
    "CaptureDeliveryRole": dict.fromkeys(
        ("ArtifactsBucket", "ArtifactsBucket/capture/*", "ArtifactsBucket/capture-errors/*"), FIREHOSE
    ),
}  # fmt: skip


def _name(node: Any) -> str:
    """A Resource element as `<logical id>[/<suffix>]`: `!GetAtt T.Arn` -> T; `${B.Arn}/runs/*` -> B/runs/*; a
    policy template's `Fn::Sub [arn...:table/${tableName}, {tableName: !Ref T}]` -> T."""
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        logical_id, attribute = target if isinstance(target, list) else target.split(".", 1)
        return logical_id if attribute == "Arn" else f"{logical_id}.{attribute}"
    if isinstance(node, dict) and "Ref" in node:
        return node["Ref"]
    if isinstance(node, dict) and "Fn::Sub" in node:
        argument = node["Fn::Sub"]
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        for key, value in variables.items():
            text = text.replace("${" + key + "}", _name(value))
        for prefix in ARN_PREFIXES:
            text = text.removeprefix(prefix)
        return re.sub(r"\$\{([A-Za-z0-9]+)\.Arn\}", r"\1", text)
    if isinstance(node, str):
        return node
    raise AssertionError(f"a Resource the matrix cannot name: {node}")


def _condition_suffix(statement: dict[str, Any]) -> str:
    prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
    return f"[s3:prefix={','.join(sorted(prefixes))}]" if prefixes else ""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every Allow statement of every role, each conditional branch included."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for branch in branches(policy):
                for statement in _as_list(branch["PolicyDocument"]["Statement"]):
                    for inner in branches(statement):
                        assert inner.get("Effect") == "Allow", f"{logical_id}: the matrix reads Allow statements only"
                        found[logical_id].append(inner)
    return found


def matrix(template: dict[str, Any]) -> tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, list[str]]]]:
    """(role -> table -> DynamoDB write actions, role -> bucket/prefix -> S3 actions), as the template grants."""
    tables: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    buckets: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for role, statements in role_statements(template).items():
        for statement in statements:
            actions = set(_as_list(statement["Action"]))
            assert not {a for a in actions if a in ("*", "s3:*", "dynamodb:*")}, f"{role}: a wildcard action"
            for resource in _as_list(statement["Resource"]):
                for branch in branches(resource):
                    name = _name(branch)
                    table = name.split("/", 1)[0]
                    writes = {a for a in actions if a in DYNAMODB_WRITES}
                    if table in TABLES and writes:  # a table or its indexes (`T/index/*`): the table's row
                        tables[role][table] |= writes
                    s3_actions = {a for a in actions if a.startswith("s3:")}
                    if s3_actions and name.split("/", 1)[0] in ("ArtifactsBucket", "DataBucketName"):
                        key = name if "/" in name else name + _condition_suffix(statement)
                        buckets[role][key] |= s3_actions
    as_lists = lambda grid: {r: {k: sorted(v) for k, v in cells.items()} for r, cells in grid.items()}  # noqa: E731
    return as_lists(tables), as_lists(buckets)


@pytest.fixture(scope="module")
def granted() -> Iterator[tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, list[str]]]]]:
    with pytest.MonkeyPatch.context() as patch:  # the translation resolves pseudo parameters: it needs a region
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield matrix(translate(load_template(), ROOT))


def test_each_role_writes_exactly_the_tables_it_is_meant_to(granted) -> None:
    tables, _ = granted
    assert tables == INTENDED_TABLE_WRITES


def test_only_deploy_and_the_api_can_move_an_alias(granted) -> None:
    tables, _ = granted
    assert sorted(role for role, cells in tables.items() if "AliasTable" in cells) == [
        "ApiFunctionRole",
        "DeployFunctionRole",
    ]


def test_no_role_can_update_or_delete_an_audit_event(granted) -> None:
    tables, _ = granted
    audit_writers = {role: cells["AuditTable"] for role, cells in tables.items() if "AuditTable" in cells}
    assert audit_writers, "nobody records audit events: the walk is broken"
    assert all(actions == ["dynamodb:PutItem"] for actions in audit_writers.values()), audit_writers


def test_each_role_reaches_exactly_the_s3_prefixes_it_is_meant_to(granted) -> None:
    _, buckets = granted
    assert buckets == INTENDED_S3


def test_no_role_may_delete_objects_or_change_bucket_settings(granted) -> None:
    _, buckets = granted
    allowed = {GET, PUT, LIST, "s3:GetObjectVersion", "s3:GetBucketLocation", "s3:GetLifecycleConfiguration",
               "s3:AbortMultipartUpload", "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts"}  # fmt: skip
    extra = {role: {k: sorted(set(v) - allowed)} for role, cells in buckets.items() for k, v in cells.items()
             if set(v) - allowed}  # fmt: skip
    assert not extra, extra


@pytest.mark.parametrize(
    "logical_id", ["ArtifactsBucket", "AccessLogsBucket", "ArtifactsKey", *TABLES], ids=lambda name: name
)
def test_stateful_resources_are_retained_on_deletion_and_replacement(logical_id: str) -> None:
    resource = load_template()["Resources"][logical_id]
    assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain")


def test_the_matrix_would_see_a_broader_grant() -> None:
    # Given the template with the old grant put back on one role (SAM's DynamoDBCrudPolicy on the registry)
    template = load_template()
    template["Resources"]["TrainFunction"]["Properties"]["Policies"].append(
        {"DynamoDBCrudPolicy": {"TableName": {"Ref": "AuditTable"}}}
    )
    # Then the computed matrix differs from the intended one on that role, naming what it may now do
    tables, _ = matrix(translate(template, ROOT))
    assert tables["TrainFunctionRole"]["AuditTable"] == [
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]


# Who may start which state machine (a schedule that could start anything would be a way around the API's checks).
INTENDED_STARTS = {
    # runs, batch jobs, and a model's drift check on demand (POST /models/{name}/monitoring/checks)
    "ApiFunctionRole": ["BatchTransform.Name", "DriftCheck.Name", "TrainingPipeline.Name"],
    "BatchTransformRole": ["StackName}-BatchTransform"],  # its Distributed Map's child executions (itself, by name)
    "DriftCheckRole": ["TrainingPipeline.Name"],  # drift-triggered retraining
    "DriftScheduleRole": ["ScheduledDriftChecks"],  # the one schedule starts the tick, nothing else
    "ScheduledDriftChecksRole": ["DriftCheck.Name"],  # the tick starts one DriftCheck per due model
    # its Distributed Map's child executions (the trials, by name), and the Rollout (startExecution.sync:2)
    "TrainingPipelineRole": ["Rollout", "StackName}-TrainingPipeline"],
}


def test_each_role_starts_exactly_the_state_machines_it_is_meant_to() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        statements = role_statements(translate(load_template(), ROOT))
    starts: dict[str, set[str]] = defaultdict(set)
    for role, found in statements.items():
        for statement in found:
            actions = set(_as_list(statement["Action"]))
            assert not {a for a in actions if a.startswith("scheduler:")}, (
                f"{role}: no role manages schedules (the schedule is static; the tick fans out)"
            )
            # the one role passed (TrainingJobRole, to SageMaker only): test_no_other_role_can_start_training_jobs...
            assert "iam:PassRole" not in actions or role == "TrainingPipelineRole", f"{role} passes a role"
            if "states:StartExecution" in actions:
                for resource in _as_list(statement["Resource"]):
                    for branch in branches(resource):
                        starts[role].add(_name(branch).rsplit(":", 1)[-1])
    assert {role: sorted(names) for role, names in starts.items()} == INTENDED_STARTS


SAGEMAKER_JOB_ACTIONS = {"sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"}
SYNC_RULE_ACTIONS = {"events:DescribeRule", "events:PutRule", "events:PutTargets"}


@pytest.fixture(scope="module")
def translated() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield translate(load_template(), ROOT)


def _grants(statements: list[dict[str, Any]], prefixes: tuple[str, ...]) -> dict[str, list[Any]]:
    """action -> [(resource name, condition)] for the actions starting with one of ``prefixes``."""
    found: dict[str, list[Any]] = defaultdict(list)
    for statement in statements:
        for action in _as_list(statement["Action"]):
            if action.startswith(prefixes):
                for resource in _as_list(statement["Resource"]):
                    found[action].append((_name(resource), statement.get("Condition")))
    return dict(found)


def test_the_pipeline_runs_only_its_own_training_jobs_as_the_one_training_role(translated) -> None:
    # createTrainingJob.sync as AWS documents it (step-functions/latest/dg/sagemaker-iam.html), scoped
    grants = _grants(role_statements(translated)["TrainingPipelineRole"], ("sagemaker:", "iam:", "events:"))
    jobs = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/mlops-train-*"
    rule = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"  # noqa: E501
    # a job is created only on one of the allowed instance types and within the runtime ceiling (the request's caps)
    caps = {
        "ForAllValues:StringEquals": {
            "sagemaker:InstanceTypes": {"Fn::Split": [",", {"Ref": "TrainingInstanceTypes"}]}
        },
        "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": {"Ref": "TrainingJobMaxRuntimeSeconds"}},
    }
    assert grants == {
        **{
            action: [(jobs, caps if action == "sagemaker:CreateTrainingJob" else None)]
            for action in SAGEMAKER_JOB_ACTIONS
        },
        "iam:PassRole": [("TrainingJobRole", {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})],
        **{action: [(rule, None), (ROLLOUT_RULE, None)] for action in SYNC_RULE_ACTIONS},
    }


ROLLOUT_RULE = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"  # noqa: E501


def test_the_pipeline_follows_only_rollout_executions(translated) -> None:
    # startExecution.sync:2 as AWS documents it (step-functions/latest/dg/stepfunctions-iam.html): start the Rollout,
    # describe and stop its executions (no other state machine's), and the managed rule (in the test above)
    grants = _grants(role_statements(translated)["TrainingPipelineRole"], ("states:",))
    rollouts = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${Rollout.Name}:*"
    trials = (
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-TrainingPipeline/*"
    )
    assert {action: sorted(name for name, _ in found) for action, found in grants.items()} == {
        "states:StartExecution": sorted(
            [
                "Rollout",
                "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-TrainingPipeline",
            ]
        ),
        "states:DescribeExecution": sorted([rollouts, trials]),
        "states:StopExecution": sorted([rollouts, trials]),
    }


def test_no_other_role_can_start_training_jobs_or_pass_a_role(translated) -> None:
    holders = {
        role
        for role, statements in role_statements(translated).items()
        if _grants(statements, ("sagemaker:", "iam:PassRole"))
    }
    assert holders == {"TrainingPipelineRole"}


def test_only_sagemaker_in_this_account_can_assume_the_training_role(translated) -> None:
    trust = translated["Resources"]["TrainingJobRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]


# ---- the artifacts key and bucket: the stack's roles and the named readers only ------------------------------------
STACK_ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-*"
KMS_DATA_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}


def _principal_arns(condition: dict[str, Any]) -> list[list[str]]:
    """The aws:PrincipalArn patterns of an ArnLike/ArnNotLike condition, per branch of its !If (readers or none)."""
    value = next(iter(condition.values()))["aws:PrincipalArn"]
    if isinstance(value, dict) and "Fn::If" in value:
        _, with_readers, without = value["Fn::If"]
        joined = with_readers["Fn::Split"][1]["Fn::Sub"]
        return [joined.split(","), [without[0]["Fn::Sub"]]]
    return [[value["Fn::Sub"]]]


def test_only_the_stacks_roles_and_named_readers_may_use_the_artifacts_key() -> None:
    statements = load_template()["Resources"]["ArtifactsKey"]["Properties"]["KeyPolicy"]["Statement"]
    users = [s for s in statements if KMS_DATA_ACTIONS & set(_as_list(s["Action"]))]
    # the account administers the key but holds none of its data actions (kms:* would let any IAM policy grant them)
    administration = next(s for s in statements if s["Sid"] == "AccountAdministration")
    assert "kms:*" not in _as_list(administration["Action"]) and administration not in users
    assert len(users) == 1, users
    condition = users[0]["Condition"]
    assert condition["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
    assert _principal_arns({"ArnLike": condition["ArnLike"]}) == [
        [STACK_ROLES, "${ArtifactsReaderPrincipalArns}"],
        [STACK_ROLES],
    ]


def test_only_the_stacks_roles_write_artifacts_and_only_they_and_the_readers_read_them() -> None:
    statements = load_template()["Resources"]["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    denials = {s["Sid"]: s for s in statements if s["Effect"] == "Deny" and "ArnNotLike" in s.get("Condition", {})}
    writes, reads = denials["DenyObjectWritesOutsideTheStack"], denials["DenyObjectReadsOutsideTheStackAndReaders"]
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(writes["Action"]) and "s3:GetObject" in reads["Action"]
    assert writes["Principal"] == reads["Principal"] == "*"
    assert _principal_arns(writes["Condition"]) == [[STACK_ROLES]]  # readers read; they never write
    assert _principal_arns(reads["Condition"]) == [[STACK_ROLES, "${ArtifactsReaderPrincipalArns}"], [STACK_ROLES]]


# IAM cannot make a PutItem conditional (no condition key states a ConditionExpression): a role that may append an
# audit event could also overwrite one by putting the same key without the code's attribute_not_exists. These roles,
# and no other, hold that right; docs/governance.md#who-can-write-what names them. An event's key holds its timestamp
# and a random id, so an overwrite has to name a key it read first.
AUDIT_APPENDERS = [
    "ApiFunctionRole",
    "ApprovalFunctionRole",
    "DeployFunctionRole",
    "DriftFunctionRole",
    "RecordFailureFunctionRole",
    "RegisterFunctionRole",
    "ReproduceFunctionRole",
]


def test_exactly_these_roles_could_overwrite_an_audit_event_through_put_item(granted) -> None:
    tables, _ = granted
    assert sorted(role for role, cells in tables.items() if "dynamodb:PutItem" in cells.get("AuditTable", [])) == (
        AUDIT_APPENDERS
    )
