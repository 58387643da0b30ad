"""Caps a request cannot lift: the stack's parameters are ceilings (trials, trials at once) and floors (a progressive
delivery, its bake thresholds) that a training request may tighten and never loosen, at the API's door (403) and
again at Prepare (InvalidTrainingRequest) for runs started with StartExecution directly."""

from __future__ import annotations

import json

import pytest

from local.gateway import LocalGateway
from local.stack import LocalStack
from mlops.governance import policy as governance
from mlops.records.request import TrainingRequest, settle_deployment
from mlops.settings import GovernanceSettings, MissingSetting

DATASET = "s3://data/datasets/x.csv"


def _policy(**overrides) -> GovernanceSettings:
    values = {
        "require_approval": False,
        "min_improvement": 0.0,
        "dataset_locations": ("s3://data/",),
        "max_trials": 100,
        "max_concurrency": 10,
        "deployment_strategy": "canary",
        "max_error_rate": 0.01,
        "max_p99_latency_ms": 500.0,
        "min_requests": 20,
        "max_disagreement": 0.1,
        "bake_s": 300,
        "training_instance_types": ("ml.m5.xlarge", "ml.m5.large"),
        "max_training_runtime_s": 7200,
    }
    return GovernanceSettings(**{**values, **overrides})


def _request(**fields) -> TrainingRequest:
    return TrainingRequest.model_validate({"model_name": "m", "dataset_uri": DATASET, "target": "y", **fields})


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"search": {"max_trials": 101}}, "SearchMaxTrials"),
        ({"search": {"max_trials": 20, "max_concurrency": 11}}, "TrialMaxConcurrency"),
        ({"deployment": {"strategy": "all_at_once"}}, "DeploymentStrategy"),
        ({"deployment": {"thresholds": {"max_error_rate": 0.02}}}, "DeploymentMaxErrorRate"),
        ({"deployment": {"thresholds": {"max_p99_latency_ms": 501.0}}}, "DeploymentMaxP99LatencyMs"),
        ({"deployment": {"thresholds": {"min_requests": 19}}}, "DeploymentMinRequests"),
        ({"deployment": {"thresholds": {"max_disagreement": 0.11}}}, "DeploymentMaxDisagreement"),
        ({"deployment": {"strategy": "shadow", "bake_s": 299}}, "DeploymentBakeSeconds"),
        ({"sagemaker": {"instance_type": "ml.p4d.24xlarge"}}, "TrainingInstanceTypes"),
        ({"compute": "sagemaker", "sagemaker": {"max_runtime_s": 7201}}, "TrainingJobMaxRuntimeSeconds"),
    ],
)
def test_a_request_above_a_ceiling_or_below_a_floor_is_refused_naming_the_parameter(fields, named):
    found = governance.violations(_request(**fields), _policy())

    assert len(found) == 1 and named in found[0], found


def test_a_request_may_tighten_every_cap():
    tighter = _request(
        search={"max_trials": 100, "max_concurrency": 2},
        deployment={
            "strategy": "linear",
            "bake_s": 3600,
            "thresholds": {
                "max_error_rate": 0.001,
                "max_p99_latency_ms": 100.0,
                "max_disagreement": 0.05,
                "min_requests": 500,
            },
        },
        sagemaker={"instance_type": "ml.m5.large", "max_runtime_s": 600},
    )
    assert governance.violations(tighter, _policy()) == []
    # on a stack that deploys at once, a request may choose a progressive rollout (it is stricter)
    assert (
        governance.violations(_request(deployment={"strategy": "shadow"}), _policy(deployment_strategy="all_at_once"))
        == []
    )


def test_thresholds_a_request_leaves_out_are_the_stacks():
    settled = settle_deployment(
        _request(deployment={"thresholds": {"min_requests": 50}}).deployment, "canary", 60, floor=_policy()
    )

    assert (settled.thresholds.max_error_rate, settled.thresholds.max_p99_latency_ms) == (0.01, 500.0)
    assert (settled.thresholds.min_requests, settled.thresholds.max_disagreement) == (50, 0.1)


def test_the_caps_are_read_once_and_a_malformed_one_fails_at_start(monkeypatch):
    for name, value in {
        "REQUIRE_APPROVAL": "false",
        "GATE_MIN_IMPROVEMENT": "0",
        "DATA_BUCKET": "",
        "ARTIFACTS_BUCKET": "artifacts",
        "SEARCH_MAX_TRIALS": "50",
        "TRIAL_MAX_CONCURRENCY": "4",
        "DEPLOYMENT_STRATEGY": "linear",
        "DEPLOYMENT_MAX_ERROR_RATE": "0.05",
        "DEPLOYMENT_MAX_P99_LATENCY_MS": "800",
        "DEPLOYMENT_MIN_REQUESTS": "10",
        "DEPLOYMENT_MAX_DISAGREEMENT": "0.3",
        "DEPLOYMENT_BAKE_S": "120",
        "TRAINING_INSTANCE_TYPE": "ml.m5.xlarge",
        "TRAINING_INSTANCE_TYPES": "ml.m5.large,ml.m5.xlarge",
        "TRAINING_JOB_MAX_RUNTIME_S": "3600",
    }.items():
        monkeypatch.setenv(name, value)
    policy = GovernanceSettings.from_environment()
    assert (policy.max_trials, policy.max_concurrency, policy.deployment_strategy) == (50, 4, "linear")
    assert (policy.max_error_rate, policy.max_p99_latency_ms, policy.min_requests) == (0.05, 800.0, 10)
    assert (policy.max_disagreement, policy.bake_s, policy.max_training_runtime_s) == (0.3, 120, 3600)
    # the default instance type first, then the rest of the allow-list
    assert (policy.training_instance_type, policy.training_instance_types) == (
        "ml.m5.xlarge",
        ("ml.m5.xlarge", "ml.m5.large"),
    )

    for name, value, named in (
        ("DEPLOYMENT_MAX_ERROR_RATE", "nan", "DEPLOYMENT_MAX_ERROR_RATE"),
        (
            "TRAINING_INSTANCE_TYPE",
            "ml.m5.4xlarge",
            "the default ml.m5.4xlarge is not one of ml.m5.large, ml.m5.xlarge",
        ),
        ("TRAINING_INSTANCE_TYPES", "ml.m5.xlarge,m5.large\n", "is not a SageMaker instance type"),
        ("TRAINING_JOB_MAX_RUNTIME_S", "999999999", "TRAINING_JOB_MAX_RUNTIME_S"),
    ):
        with monkeypatch.context() as changed:
            changed.setenv(name, value)
            with pytest.raises(MissingSetting, match=named):
                GovernanceSettings.from_environment()


@pytest.fixture
def gateway(monkeypatch):
    with LocalStack(parameters={"SearchMaxTrials": "30", "TrialMaxConcurrency": "3"}) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        yield LocalGateway(stack, port=0)


def test_the_api_refuses_a_search_above_the_stacks_ceiling_before_anything_starts(gateway):
    stack = gateway.stack
    body = {
        "model_name": "m",
        "dataset_uri": f"s3://{stack.bucket}/datasets/x.csv",
        "target": "y",
        "client_token": "t-1",
        "search": {"max_trials": 31},
    }

    status, _, payload = gateway.dispatch(
        "POST", "/pipelines/training", {"content-type": "application/json"}, json.dumps(body).encode()
    )

    answer = json.loads(payload)
    assert (status, answer["error"]) == (403, "PolicyViolation"), answer
    assert "SearchMaxTrials" in answer["message"] and "30" in answer["message"]
    sfn = stack.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"] == []


def test_prepare_settles_the_thresholds_a_request_leaves_out_to_the_stacks(stack, breast_cancer_uri):
    from mlops.settings import PipelineSettings, Settings  # noqa: PLC0415
    from mlops.training.prepare import prepare  # noqa: PLC0415 - scikit-learn: only this test pays for it

    policy = _policy(dataset_locations=(f"s3://{stack.bucket}/",), deployment_strategy="all_at_once")
    request = TrainingRequest.model_validate(
        {"model_name": "bc", "dataset_uri": breast_cancer_uri, "target": "target", "deployment": {"strategy": "canary"}}
    )
    defaults = PipelineSettings(require_approval=False, approval_timeout_s=60, code_version="t")

    settled = prepare(request, "arn:aws:states:us-east-1:1:execution:p:run", Settings.from_environment(), defaults,
                      policy=policy).request.deployment.thresholds  # fmt: skip

    assert (settled.max_error_rate, settled.max_p99_latency_ms, settled.min_requests) == (0.01, 500.0, 20)
    assert settled.max_disagreement == 0.1  # the stack's, not the built-in default (0.2)


def test_prepare_settles_a_training_jobs_instance_and_runtime_within_the_stacks():
    from mlops.records.compute import settle_training_job  # noqa: PLC0415

    policy = _policy()
    assert settle_training_job(None, policy.training_instance_type, policy.max_training_runtime_s).model_dump() == {
        "instance_type": "ml.m5.xlarge",
        "max_runtime_s": 7200,
    }
    chosen = _request(sagemaker={"instance_type": "ml.m5.large", "max_runtime_s": 900}).sagemaker
    assert settle_training_job(chosen, "ml.m5.xlarge", 7200).model_dump() == {
        "instance_type": "ml.m5.large",
        "max_runtime_s": 900,
    }


def test_the_training_job_reads_the_settled_instance_and_runtime_and_iam_holds_the_caps():
    from local.template import ROOT, load_template  # noqa: PLC0415

    definition = (ROOT / "statemachines/training_pipeline.asl.json").read_text()
    assert '"InstanceType.$": "$.sagemaker.instance_type"' in definition
    assert '"MaxRuntimeInSeconds.$": "$.sagemaker.max_runtime_s"' in definition
    assert '"sagemaker.$": "$.request.sagemaker"' in definition  # the Map's items carry what Prepare settled
    assert "${TrainingInstanceType}" not in definition and "${TrainingJobMaxRuntimeSeconds}" not in definition
    template = load_template()
    parameters = template["Parameters"]
    assert parameters["TrainingInstanceTypes"]["AllowedPattern"].startswith("^ml")
    statements = [
        statement
        for policy in template["Resources"]["TrainingPipeline"]["Properties"]["Policies"]
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
    ]
    (create,) = [s for s in statements if "sagemaker:CreateTrainingJob" in str(s["Action"])]
    assert create["Condition"] == {
        "ForAllValues:StringEquals": {
            "sagemaker:InstanceTypes": {"Fn::Split": [",", {"Ref": "TrainingInstanceTypes"}]}
        },
        "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": {"Ref": "TrainingJobMaxRuntimeSeconds"}},
    }
