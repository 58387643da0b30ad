"""The predict route's protection, as template.yaml declares it: the authorizer chosen by PredictAuthorizer, one API
key per PredictClients name under a usage plan with a daily quota, and JSON access logs on the stage. Conditions
are evaluated here for each parameter value (CloudFormation does it at deploy time), and the SAM translation is
checked for what SAM adds on its own (the API's default IAM authorizer must not reach the predict route)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template, resources_of_type
from tools.check_template import translate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PREDICT = ("/models/{name}/predict", "post")
NO_VALUE = object()


class Conditions:
    """Fn::If / Fn::Equals / Fn::Not / Fn::Select / Fn::Split / Fn::Join / Fn::Sub over parameter values."""

    def __init__(self, template: dict[str, Any], **overrides: str) -> None:
        self.template = template
        self.values = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()} | overrides

    def holds(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [value for item in node if (value := self(item)) is not NO_VALUE]
        if not isinstance(node, dict) or len(node) != 1:
            return {k: self(v) for k, v in node.items()} if isinstance(node, dict) else node
        ((key, argument),) = node.items()
        return self.intrinsic(key, argument)

    def intrinsic(self, key: str, argument: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if key == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            declared = self.template["Parameters"].get(argument, {})
            value = self.values.get(argument, argument)
            return value.split(",") if declared.get("Type") == "CommaDelimitedList" else value
        if key == "Fn::If":
            name, then, otherwise = argument
            return self(then if self.holds(name) else otherwise)
        if key == "Fn::Equals":
            left, right = (self(item) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not self(argument[0])
        if key == "Fn::Select":
            return self(argument[1])[int(argument[0])]
        if key == "Fn::Split":
            return self(argument[1]).split(argument[0])
        if key == "Fn::Join":
            return argument[0].join(self(argument[1]))
        if key == "Fn::Sub" and isinstance(argument, list):
            text, names = argument
            for name, value in names.items():
                text = text.replace("${" + name + "}", self(value))
            return text
        return {key: self(argument)}


def _predict_operation(template: dict[str, Any]) -> dict[str, Any]:
    path, method = PREDICT
    return template["Resources"]["MlopsApi"]["Properties"]["DefinitionBody"]["paths"][path][method]


@pytest.mark.parametrize(
    ("authorizer", "expected"),
    [
        ("api_key", [{"api_key": []}]),
        ("iam", [{"sigv4": []}, {"api_key": []}]),
        ("cognito", [{"cognito": []}, {"api_key": []}]),
    ],
)
def test_the_predict_route_takes_the_authorizer_the_parameter_names_and_always_an_api_key(authorizer, expected):
    conditions = Conditions(TEMPLATE, PredictAuthorizer=authorizer)
    security = [item for item in conditions(_predict_operation(TEMPLATE)["security"]) if "NONE" not in item]
    assert security == expected


def test_each_security_scheme_is_what_api_gateway_reads():
    schemes = TEMPLATE["Resources"]["MlopsApi"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    assert schemes["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    cognito = Conditions(TEMPLATE, PredictAuthorizer="cognito", PredictUserPoolArn="arn:aws:cognito-idp:x")(
        schemes["cognito"]
    )
    assert cognito["x-amazon-apigateway-authorizer"] == {
        "type": "cognito_user_pools",
        "providerARNs": ["arn:aws:cognito-idp:x"],
    }
    # no Cognito authorizer at all unless it is the one chosen
    assert Conditions(TEMPLATE, PredictAuthorizer="iam")({"cognito": schemes["cognito"]}) == {"cognito": NO_VALUE}


def test_cognito_without_a_user_pool_is_refused_before_deployment():
    rule = TEMPLATE["Rules"]["CognitoNeedsAUserPool"]
    conditions = Conditions(TEMPLATE, PredictAuthorizer="cognito")
    assert conditions(rule["RuleCondition"]) is True
    assert conditions(rule["Assertions"][0]["Assert"]) is False
    assert Conditions(TEMPLATE, PredictAuthorizer="cognito", PredictUserPoolArn="arn:x")(
        rule["Assertions"][0]["Assert"]
    )


def test_sams_default_iam_authorizer_stays_on_the_admin_routes_and_off_the_predict_route(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    translated = translate(load_template(ROOT / "template.yaml"), ROOT)
    paths = translated["Resources"]["MlopsApi"]["Properties"]["Body"]["paths"]
    path, method = PREDICT
    predict_schemes = {key for item in paths[path][method]["security"] for key in item}
    assert "AWS_IAM" not in predict_schemes and "NONE" not in predict_schemes and "api_key" in predict_schemes
    admin = [operation for p, operations in paths.items() if p != path for operation in operations.values()]
    assert admin and all({"AWS_IAM": []} in operation["security"] for operation in admin)


@pytest.mark.parametrize(
    ("clients", "slots"),
    [
        ("default", [True, False, False, False, False]),
        ("web,batch", [True, True, False, False, False]),
        ("a,b,c,d,e", [True, True, True, True, True]),
    ],
)
def test_each_client_named_gets_an_api_key_under_the_usage_plan(clients, slots):
    conditions = Conditions(TEMPLATE, PredictClients=clients)
    assert [conditions.holds(f"HasClient{i}") for i in range(1, 6)] == slots
    resources = TEMPLATE["Resources"]
    for index, name in enumerate(clients.split(",")):
        key = resources[f"PredictClientKey{index + 1}"]
        assert conditions(key["Properties"]["Name"]) == "${AWS::StackName}-" + name
        plan_key = resources[f"PredictClientPlanKey{index + 1}"]["Properties"]
        assert plan_key["KeyId"] == {"Ref": f"PredictClientKey{index + 1}"}
        assert plan_key["UsagePlanId"] == {"Ref": "PredictUsagePlan"}


def test_the_usage_plan_throttles_and_has_a_daily_quota_per_key():
    plan = TEMPLATE["Resources"]["PredictUsagePlan"]["Properties"]
    assert plan["Quota"] == {"Limit": {"Ref": "PredictQuotaPerDay"}, "Period": "DAY"}
    assert plan["Throttle"] == {"RateLimit": {"Ref": "PredictRateLimit"}, "BurstLimit": {"Ref": "PredictBurstLimit"}}
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "MlopsApi"}, "Stage": {"Ref": "MlopsApi.Stage"}}]


def test_the_stage_writes_json_access_logs_to_a_log_group_with_retention():
    api = TEMPLATE["Resources"]["MlopsApi"]["Properties"]
    setting = api["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])  # one JSON object per request
    assert {"requestId", "status", "apiKeyId", "caller", "userArn", "cognitoSubject", "responseLatencyMs"} <= set(
        fields
    )
    group = TEMPLATE["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "ApiAccessLogRetentionDays"}
    # access logs need the region's API Gateway logs role: the template sets it unless told the account has one
    assert TEMPLATE["Resources"]["ApiGatewayAccount"]["Condition"] == "ManagesApiGatewayAccount"
    skipped = [skip["id"] for skip in TEMPLATE["Resources"]["MlopsApi"]["Metadata"]["checkov"]["skip"]]
    assert "CKV_AWS_76" not in skipped  # checkov's access-logging check runs on the API


def test_every_predict_route_of_the_template_is_one_the_local_gateway_serves():
    integrated = resources_of_type(TEMPLATE, "AWS::Serverless::Api")["MlopsApi"]["Properties"]["DefinitionBody"]
    assert list(integrated["paths"]) == [PREDICT[0]]
