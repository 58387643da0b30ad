"""Provision the template's resources on moto, through the AWS APIs, and run them locally.

Resources are created from what ``template.yaml`` declares (bucket, table keys, functions' handlers and
environment, state machines' DefinitionUri + DefinitionSubstitutions resolved to the local ARNs). moto's
CloudFormation path is not used: it leaves state machines unexecutable and substitutions unresolved. Starting a stack
applies the moto patches register (local/moto_patches.py) and gives invocations their own view of the process
(local/runtime.py); stopping it forgets the handlers and the capture streams.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from local import moto_patches, runtime, state
from local.emulated import firehose, sagemaker_training, sfn_integrations
from local.template import (
    ROOT,
    Resolver,
    function_environment,
    function_memory_size,
    function_property,
    load_template,
    resources_of_type,
)
from mlops.registry.store import ModelRegistry
from mlops.storage import clients

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
STACK_NAME = "mlops-local"

# What Lambda would set, and what keeps local runs quiet and offline.
# The local stack trains on "SageMaker" in-process (local/emulated/sagemaker_training.py): it needs an image name to
# pass the template's check that a stack has one, not an image.
LOCAL_PARAMETERS = {"TrainingImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-training:local"}
LOCAL_FUNCTION_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "false",
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
    "AWS_REGION": DEFAULT_REGION,
}


def _fake_credentials() -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }.items():
        os.environ[name] = value


def _placeholder_zip() -> bytes:
    # moto needs a code package to create a function; the real code runs in-process (see runtime.py).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs in-process from the repository")
    return buffer.getvalue()


@dataclass
class LocalStack:
    """The template's resources on moto. Use as a context manager (``with LocalStack() as stack``)."""

    template_path: Path = ROOT / "template.yaml"
    region: str = DEFAULT_REGION
    parameters: dict[str, str] = field(default_factory=dict)  # overrides of the template's Parameters
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    function_names: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    state_machine_arns: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    function_environments: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> variables
    api_key: str = field(default_factory=lambda: "local-" + uuid.uuid4().hex)  # the first predict client's key
    client_api_keys: dict[str, str] = field(default_factory=dict)  # PredictClients: client name -> API key
    # Where the stack keeps its data between runs (local/state.py); None: an ephemeral stack (tests, demo).
    state_dir: Path | None = None
    restored: state.Restored | None = None
    _mock: Any = None
    _lock: state.StateLock | None = None
    _clients: dict[str, Any] = field(default_factory=dict)  # provisioning's clients (see _provisioning_client)

    def __enter__(self) -> LocalStack:
        if self._mock is None:  # a stack may be started before its `with` block
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.state_dir is not None:  # refuse a state another process owns before doing any work
            self._lock = state.StateLock(self.state_dir)
            self._lock.acquire()
        _fake_credentials()
        self.parameters = {**LOCAL_PARAMETERS, **self.parameters}
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        clients.reset_clients()
        runtime.install_invocation_views()
        moto_patches.apply()
        sfn_integrations.forget_tokens()
        sagemaker_training.forget_jobs()
        self.template = load_template(self.template_path)
        self._provision()
        if self.state_dir is not None:
            self.restored = state.restore(self, self.state_dir)

    def save(self) -> Path | None:
        """Write the stack's data to its state directory (nothing for an ephemeral stack)."""
        return state.save(self, self.state_dir) if self.state_dir is not None and self._mock is not None else None

    def stop(self) -> None:
        try:
            self.save()
        finally:
            self._stop()

    def _stop(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self._clients.clear()
        runtime.forget_handlers()
        firehose.forget()
        clients.reset_clients()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    def _provisioning_client(self, service: str) -> Any:
        """One client per service while provisioning: making a boto3 client costs ~10 ms, and provisioning
        makes about 80 calls."""
        if service not in self._clients:
            self._clients[service] = self.client(service)
        return self._clients[service]

    # ---- names ------------------------------------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        return ACCOUNT_ID

    @property
    def bucket(self) -> str:
        return self.refs["ArtifactsBucket"]

    @property
    def table(self) -> str:
        return self.refs["RegistryTable"]

    def bucket_names(self) -> list[str]:
        return [self.refs[logical_id] for logical_id in resources_of_type(self.template, "AWS::S3::Bucket")]

    def table_names(self) -> list[str]:
        return [self.refs[logical_id] for logical_id in resources_of_type(self.template, "AWS::DynamoDB::Table")]

    @property
    def alias_table(self) -> str:
        return self.refs["AliasTable"]

    @property
    def audit_table(self) -> str:
        return self.refs["AuditTable"]

    @property
    def monitor_table(self) -> str:
        return self.refs["MonitorTable"]

    def registry(self) -> ModelRegistry:
        """The registry over this stack's tables (versions, aliases, audit)."""
        return ModelRegistry(self.table, alias_table=self.alias_table, audit_table=self.audit_table)

    @property
    def training_pipeline_arn(self) -> str:
        return self.state_machine_arns["TrainingPipeline"]

    @property
    def rollout_arn(self) -> str:
        return self.state_machine_arns["Rollout"]

    @property
    def drift_check_arn(self) -> str:
        return self.state_machine_arns["DriftCheck"]

    def parameter(self, name: str) -> str:
        """A template parameter's value in this stack (its override, or the template's default)."""
        if name in self.parameters:
            return self.parameters[name]
        return str(self.template["Parameters"][name].get("Default", ""))

    def predict_clients(self) -> list[str]:
        """PredictClients: the client names the template makes API keys for (its first five)."""
        return [name.strip() for name in self.parameter("PredictClients").split(",") if name.strip()][:5]

    def environment(self) -> dict[str, str]:
        """Every function's settings from the template, merged (they agree on shared names): for tests and code
        that call handlers or domain functions directly, outside a Lambda invocation."""
        merged: dict[str, str] = {}
        for variables in self.function_environments.values():
            merged.update(variables)
        return merged

    # ---- provisioning -----------------------------------------------------------------------------------------
    def _provision(self) -> None:
        template = self.template
        # One API key per predict client, as the template's usage plan keys (the first keeps ``api_key``).
        self.client_api_keys = {
            client: self.api_key if index == 0 else f"local-{client}-{uuid.uuid4().hex}"
            for index, client in enumerate(self.predict_clients())
        }
        for logical_id in resources_of_type(template, "AWS::S3::Bucket"):
            name = f"{STACK_NAME}-{logical_id}".lower()
            self._provisioning_client("s3").create_bucket(Bucket=name)
            self._provisioning_client("s3").put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": "Enabled"}
            )
            self.refs[logical_id] = name
            self.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
            properties = resource["Properties"]
            name = f"{STACK_NAME}-{logical_id}"
            self._provisioning_client("dynamodb").create_table(
                TableName=name,
                AttributeDefinitions=properties["AttributeDefinitions"],
                KeySchema=properties["KeySchema"],
                BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
            )
            self.refs[logical_id] = name
            self.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"
        role_arn = self._provisioning_client("iam").create_role(
            RoleName=f"{STACK_NAME}-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {
                                "Service": [
                                    "lambda.amazonaws.com",
                                    "states.amazonaws.com",
                                    "firehose.amazonaws.com",
                                    "logs.amazonaws.com",
                                ]
                            },
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        for logical_id in resources_of_type(template, "AWS::IAM::Role"):  # one local role stands for them all
            self.attributes[(logical_id, "Arn")] = role_arn
        # Names and ARNs first: functions' environments and state machines' substitutions refer to each other.
        functions = resources_of_type(template, "AWS::Serverless::Function")
        for logical_id in functions:
            name = f"{STACK_NAME}-{logical_id}"
            self.function_names[logical_id] = name
            self.refs[logical_id] = name
            self.refs[f"{logical_id}.Alias"] = name  # AutoPublishAlias: locally the function itself
            self.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"
        for logical_id in resources_of_type(template, "AWS::Serverless::StateMachine"):
            name = f"{STACK_NAME}-{logical_id}"
            arn = f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:{name}"
            self.refs[logical_id] = arn
            self.attributes[(logical_id, "Name")] = name
            self.attributes[(logical_id, "Arn")] = arn
        for logical_id in resources_of_type(template, "AWS::KinesisFirehose::DeliveryStream"):
            name = f"{STACK_NAME}-{logical_id}"
            self.refs[logical_id] = name
            self.attributes[(logical_id, "Arn")] = f"arn:aws:firehose:{self.region}:{ACCOUNT_ID}:deliverystream/{name}"
        self._create_topics()
        resolve = Resolver(template, self.refs, self.attributes, self.parameters)
        for logical_id in functions:
            environment = {k: str(resolve(v)) for k, v in function_environment(template, logical_id).items()}
            self.function_environments[logical_id] = dict(environment)
            environment.update(LOCAL_FUNCTION_ENVIRONMENT)
            code_uri = function_property(template, logical_id, "CodeUri")
            handler = function_property(template, logical_id, "Handler")
            self._provisioning_client("lambda").create_function(
                FunctionName=self.function_names[logical_id],
                Runtime=function_property(template, logical_id, "Runtime"),
                Role=role_arn,
                Handler=handler,
                Code={"ZipFile": _placeholder_zip()},
                Timeout=int(function_property(template, logical_id, "Timeout", 3)),
                MemorySize=function_memory_size(template, logical_id, self.parameters),
                Environment={"Variables": environment},
            )
            runtime.register_handler(self.function_names[logical_id], code_uri, handler)
        self._provision_capture(resolve)
        for logical_id, resource in resources_of_type(template, "AWS::Serverless::StateMachine").items():
            properties = resource["Properties"]
            definition = (ROOT / properties["DefinitionUri"]).read_text()
            substitutions = {k: resolve(v) for k, v in properties.get("DefinitionSubstitutions", {}).items()}
            for key, value in substitutions.items():
                definition = definition.replace("${" + key + "}", str(value))
            arn = self._provisioning_client("stepfunctions").create_state_machine(
                name=f"{STACK_NAME}-{logical_id}",
                definition=definition,
                roleArn=role_arn,
                type=properties.get("Type", "STANDARD"),
            )["stateMachineArn"]
            self.state_machine_arns[logical_id] = arn
            self.refs[logical_id] = arn
        self._provision_monitoring(resolve)

    def _provision_capture(self, resolve: Resolver) -> None:
        """Log groups, the capture Firehose stream and the subscription that feeds it (local/emulated/firehose.py)."""
        template = self.template
        for logical_id, resource in resources_of_type(template, "AWS::Logs::LogGroup").items():
            name = resolve(resource["Properties"].get("LogGroupName")) or f"/local/{STACK_NAME}/{logical_id}"
            self._provisioning_client("logs").create_log_group(logGroupName=name)
            self.refs[logical_id] = name
            self.attributes[(logical_id, "Arn")] = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}:*"
        for logical_id, resource in resources_of_type(template, "AWS::KinesisFirehose::DeliveryStream").items():
            destination = resolve(resource["Properties"]["ExtendedS3DestinationConfiguration"])
            self._provisioning_client("firehose").create_delivery_stream(
                DeliveryStreamName=self.refs[logical_id],
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    key: destination[key]
                    for key in ("BucketARN", "RoleARN", "Prefix", "ErrorOutputPrefix")
                    if key in destination
                },
            )
            firehose.register_stream(self.refs[logical_id], destination)
        for logical_id, resource in resources_of_type(template, "AWS::Logs::SubscriptionFilter").items():
            properties = resolve(resource["Properties"])
            self._provisioning_client("logs").put_subscription_filter(
                logGroupName=properties["LogGroupName"],
                filterName=logical_id,
                filterPattern=properties["FilterPattern"],
                destinationArn=properties["DestinationArn"],
                roleArn=properties["RoleArn"],
            )
            firehose.register_subscription(
                properties["DestinationArn"].split("/")[-1], logical_id, properties["FilterPattern"]
            )

    # ---- monitoring: alert topic, schedules, alarms -------------------------------------------------------------
    def _condition_holds(self, resource: dict[str, Any], resolve: Resolver) -> bool:
        """A resource's Condition, for the `!Not [!Equals [!Ref P, ""]]` form the template's monitoring uses."""
        name = resource.get("Condition")
        if name is None:
            return True
        expression = self.template["Conditions"][name]
        negate = "Fn::Not" in expression
        if negate:
            (expression,) = expression["Fn::Not"]
        left, right = (resolve(operand) for operand in expression["Fn::Equals"])
        return (left != right) if negate else (left == right)

    def _create_topics(self) -> None:
        for logical_id in resources_of_type(self.template, "AWS::SNS::Topic"):
            arn = self._provisioning_client("sns").create_topic(Name=f"{STACK_NAME}-{logical_id}")["TopicArn"]
            self.refs[logical_id] = arn
            self.attributes[(logical_id, "TopicName")] = arn.rsplit(":", 1)[-1]
            self.attributes[(logical_id, "TopicArn")] = arn

    def _provision_monitoring(self, resolve: Resolver) -> None:
        """SNS subscriptions, EventBridge Scheduler schedules and CloudWatch alarms, as the template declares them.

        moto stores the schedules but never fires them: `local.runs.monitoring.fire_schedule` plays EventBridge's part
        (it starts the target with the schedule's input). Alarms are created so the template's declarations are
        exercised; moto does not evaluate them against the functions' EMF metrics.
        """
        template = self.template
        for resource in resources_of_type(template, "AWS::SNS::Subscription").values():
            if self._condition_holds(resource, resolve):
                properties = resolve(resource["Properties"])
                self._provisioning_client("sns").subscribe(
                    TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"]
                )
        for logical_id, resource in resources_of_type(template, "AWS::Scheduler::Schedule").items():
            if not self._condition_holds(resource, resolve):
                continue
            properties = resolve(resource["Properties"])
            name = f"{STACK_NAME}-{logical_id}"
            self._provisioning_client("scheduler").create_schedule(
                Name=name,
                ScheduleExpression=properties["ScheduleExpression"],
                FlexibleTimeWindow=properties["FlexibleTimeWindow"],
                Target=properties["Target"],
            )
            self.refs[logical_id] = name
        for logical_id, resource in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
            properties = resolve(resource["Properties"])
            # CloudFormation turns a Number parameter into the alarm's Double; the resolver yields its text.
            properties["Threshold"] = float(properties["Threshold"])
            self._provisioning_client("cloudwatch").put_metric_alarm(
                AlarmName=f"{STACK_NAME}-{logical_id}", **properties
            )
            self.refs[logical_id] = f"{STACK_NAME}-{logical_id}"
