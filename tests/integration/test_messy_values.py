"""A table with messy values, through the real TrainingPipeline once: a semicolon-separated Windows-1252 export with
day-first dates, Mon-YYYY periods, epoch seconds, euro amounts with thousands separators, percentages, yes/no words and
a numeric customer number. What was chosen is recorded on the version; the model deploys; the local HTTP endpoint
predicts from the raw values as the file had them and refuses a value in another form with a 400 naming it."""

from __future__ import annotations

import io
import json
import logging
import os
import urllib.error
import urllib.request

import numpy as np
import pytest

from local.cli.common import print_result
from local.gateway import LocalGateway
from local.runs.training import error_message, run_training
from local.stack import LocalStack
from mlops.registry import documents

pytestmark = pytest.mark.integration
MODEL = "messy"
ROWS = 600
CANDIDATES = [{"estimator": "random_forest", "params": {"n_estimators": 40, "min_samples_leaf": 2}}]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
CITIES = ["Zürich", "Besançon", "Málaga", "Köln", "Göteborg"]


def messy_rows(seed: int = 11) -> tuple[list[str], list[list[str]], list[str]]:
    """(header, raw rows as the file writes them, labels): the label is 'churn' when spend is low and the customer is
    not a member, or the signup was in winter."""
    rng = np.random.default_rng(seed)
    spend = rng.uniform(50, 9_000, ROWS)
    member = rng.integers(0, 2, ROWS).astype(bool)
    days = [np.datetime64("2018-01-01") + np.timedelta64(int(d), "D") for d in rng.integers(0, 1000, ROWS)]
    months = np.array([int(str(d)[5:7]) for d in days])
    churn = ((spend < 3_000) & ~member) | np.isin(months, (12, 1, 2))
    header = ["customer_no", "signup", "period", "last_seen_at", "spend", "discount", "member", "city", "status"]
    rows = []
    for i, day in enumerate(days):
        year, month, date = str(day).split("-")
        rows.append(
            [
                str(50_000 + i),
                f"{date}/{month}/{year}",
                f"{MONTHS[int(month) - 1]}-{year}",
                str(1_600_000_000 + int(rng.integers(0, 30_000_000))),
                f"€{spend[i]:,.2f}",
                f"{rng.uniform(0, 30):.1f}%",
                "Yes" if member[i] else "No",
                CITIES[i % len(CITIES)],
            ]
        )
    return header, rows, ["churn" if c else "stay" for c in churn]


def messy_file(header: list[str], rows: list[list[str]], labels: list[str]) -> bytes:
    lines = [";".join(header)] + [";".join([*row, label]) for row, label in zip(rows, labels, strict=True)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@pytest.fixture(scope="module")
def trained():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    header, rows, labels = messy_rows()
    with LocalStack(parameters={"AliasRefreshSeconds": "0"}) as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(
            Bucket=stack.bucket, Key="datasets/messy.csv", Body=messy_file(header, rows[:500], labels[:500])
        )
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/messy.csv",
            "target": "status",
            "candidates": CANDIDATES,
        }
        result = run_training(stack, request)
        gateway = LocalGateway(stack, port=0).start()
        try:
            yield stack, gateway, result, (header, rows[500:], labels[500:])
        finally:
            gateway.stop()
    os.environ.clear()
    os.environ.update(saved)


def predict(stack, gateway, instances: list[dict]) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{gateway.url}/models/{MODEL}/predict",
        data=json.dumps({"instances": instances}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "x-api-key": stack.api_key},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_forms_chosen_are_recorded_on_the_version_and_the_model_deploys(trained):
    stack, _, result, _ = trained
    assert result.end_state == "Deployed", error_message(result.cause)
    schema = documents.schema_of(stack.registry().get_version(MODEL, result.version))
    assert schema["read_as"] == {"format": "csv", "delimiter": ";", "encoding": "cp1252"}
    chosen = {name: (c["role"], c.get("format")) for name, c in schema["columns"].items()}
    assert chosen == {
        "customer_no": ("id", None),
        "signup": ("datetime", "dmy_slash"),
        "period": ("datetime", "mon_year"),
        "last_seen_at": ("datetime", "epoch_s"),
        "spend": ("feature", "number"),
        "discount": ("feature", "number"),
        "member": ("feature", "boolean"),
        "city": ("feature", None),
        "status": ("target", None),
    }
    assert schema["columns"]["customer_no"]["warning"].startswith("looks numeric")
    # and the run's human output says how the file was read, what was excluded and why, and warns
    out = io.StringIO()
    print_result(result, out)
    printed = out.getvalue()
    assert "read as     csv, delimiter ';', encoding cp1252" in printed
    assert f"excluded    customer_no: {schema['columns']['customer_no']['reason']}" in printed
    assert "warning     customer_no: looks numeric" in printed
    assert "read        signup: dates written like 31/03/2018 (dmy_slash)" in printed


def test_the_endpoint_predicts_from_the_raw_values_of_held_back_rows(trained):
    stack, gateway, result, (header, rows, labels) = trained
    assert result.deployed
    instances = [dict(zip(header[:-1], row, strict=True)) for row in rows]  # every cell a string, as in the file

    status, body = predict(stack, gateway, instances)

    assert status == 200, body
    predicted = [p["prediction"] for p in body["predictions"]]
    assert len(predicted) == len(labels)
    accuracy = np.mean(np.array(predicted) == np.array(labels))
    assert accuracy >= 0.85, accuracy  # the signal is in the written numbers, the yes/no words and the dates


def test_a_raw_value_in_another_form_is_refused_with_a_message_naming_the_form(trained):
    stack, gateway, _, (header, rows, _) = trained
    record = dict(zip(header[:-1], rows[0], strict=True))

    status, body = predict(stack, gateway, [{**record, "signup": "2019-03-25"}])

    assert status in (400, 422)
    assert "feature 'signup' is not a date written day first, like 31/03/2018" in body["message"]
