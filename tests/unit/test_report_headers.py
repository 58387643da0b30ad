"""The drift report is served with the dashboard's Content-Security-Policy: a page the API answers runs no script and
loads nothing, whatever a check wrote into it."""

from __future__ import annotations

from local.gateway import LocalGateway
from mlops.views.dashboard import PAGE_CSP
from tests.factories import version_content


def test_the_monitoring_report_is_served_with_the_dashboards_csp(stack):
    # Given a model and a check whose report holds markup a hostile value could have put there
    stack.registry().register_version("m", version_content(), status="Registered", run_id="r", actor="t", reason="r")
    key = "monitoring/m/c1/report.html"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=b"<html><script>alert(1)</script></html>")
    stack.client("dynamodb").put_item(
        TableName=stack.monitor_table,
        Item={
            "pk": {"S": "MODEL#m"},
            "sk": {"S": "CHECK#2026-01-01T00:00:00Z#c1"},
            "check_id": {"S": "c1"},
            "created_at": {"S": "2026-01-01T00:00:00Z"},
            "html_uri": {"S": f"s3://{stack.bucket}/{key}"},
        },
    )

    status, headers, _ = LocalGateway(stack, port=0).dispatch("GET", "/models/m/monitoring/report", {}, b"")

    lowered = {name.lower(): value for name, value in headers.items()}
    assert status == 200
    assert lowered["content-security-policy"] == PAGE_CSP
    assert "script-src" not in PAGE_CSP and "default-src 'none'" in PAGE_CSP
    assert lowered["x-content-type-options"] == "nosniff"
