"""Messy values read as a person reads them, on generated tables: each date form, each number form and yes/no words
detected from a sample and recorded on the column; each delimiter sniffed and the encoding settled and recorded; Excel
and other binary files refused by their signature; the endpoint's validation and batch scoring read a request's raw
values the way training read the file's."""

from __future__ import annotations

import csv
import io
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from local.cli.common import print_columns
from mlops.data import dataset, formats, reader, sniff
from mlops.errors import InvalidDataset
from mlops.monitoring.capture import model_features
from mlops.records.batch import PlannedJob
from mlops.records.request import ColumnRoles
from mlops.serving.batch_chunks import parse_chunk, score_rows
from mlops.serving.runtime import Predictions
from mlops.serving.validation import InvalidInstances, validate_inputs, validate_instances

ROWS = 240
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _dates(seed: int = 0, rows: int = ROWS) -> list[np.datetime64]:
    rng = np.random.default_rng(seed)
    return [np.datetime64("2017-01-01") + np.timedelta64(int(d), "D") for d in rng.integers(0, 1200, rows)]


def _written(day: np.datetime64, form: str) -> str:
    year, month, date = str(day).split("-")
    return {
        "iso": f"{year}-{month}-{date}",
        "ymd_slash": f"{year}/{month}/{date}",
        "dmy_dot": f"{date}.{month}.{year}",
        "mdy_slash": f"{month}/{date}/{year}",
        "dmy_slash": f"{date}/{month}/{year}",
        "mon_year": f"{MONTHS[int(month) - 1]}-{year}",
    }[form]


def _csv(columns: dict[str, list[str]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(zip(*columns.values(), strict=True))
    return buffer.getvalue().encode()


def _label(rows: int = ROWS) -> list[str]:
    return ["a" if i % 3 else "b" for i in range(rows)]


def _schema(payload: bytes, target: str = "label"):
    schema, table = dataset.infer_schema(dataset.read_table(payload), target)
    return schema, table


# ---- dates ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["ymd_slash", "dmy_dot", "mdy_slash", "dmy_slash", "mon_year"])
def test_each_date_form_becomes_the_parts_an_iso_date_gives(form):
    # Given one column of dates in the form and the same dates (the first of the month for Mon-YYYY) in ISO
    days = _dates()
    iso_days = [np.datetime64(str(d)[:7] + "-01") if form == "mon_year" else d for d in days]
    payload = _csv({"when": [_written(d, form) for d in days], "iso": [str(d) for d in iso_days], "label": _label()})

    schema, table = _schema(payload)

    # Then the column is a datetime read in that form, recorded on the column, with the ISO column's parts
    column = schema.columns["when"]
    assert (column["role"], column["format"], column.get("format_note")) == ("datetime", form, None)
    assert column["parts"] == schema.columns["iso"]["parts"]
    values = dict(zip([f.name for f in schema.features], dataset.feature_columns(table, schema), strict=True))
    for part in column["parts"]:
        np.testing.assert_array_equal(values[f"when__{part}"], values[f"iso__{part}"])


def test_slashed_dates_whose_parts_never_exceed_12_are_read_month_first_and_the_ambiguity_recorded():
    days = [d for d in _dates(rows=2000) if int(str(d)[8:]) <= 12][:ROWS]
    payload = _csv({"when": [_written(d, "dmy_slash") for d in days], "label": _label(len(days))})

    column = _schema(payload)[0].columns["when"]

    assert column["format"] == "mdy_slash"
    assert column["format_note"] == "ambiguous: no value has a day above 12, read as month/day/year"


def test_the_day_month_order_is_decided_by_any_value_above_12_not_only_the_sampled_ones(monkeypatch):
    # Given day-first dates whose only day above 12 is past the sample the form is detected on
    monkeypatch.setattr(reader, "DATETIME_SAMPLE", 50)
    days = [d for d in _dates(rows=3000) if int(str(d)[8:]) <= 12][:ROWS] + [np.datetime64("2019-02-25")]
    payload = _csv({"when": [_written(d, "dmy_slash") for d in days], "label": _label(len(days))})

    column = _schema(payload)[0].columns["when"]

    assert (column["format"], column.get("format_note")) == ("dmy_slash", None)


def test_epoch_seconds_are_dates_only_where_the_name_says_so():
    rng = np.random.default_rng(3)
    seconds = (1_514_764_800 + rng.integers(0, 10**8, ROWS)).tolist()
    iso = [np.datetime64(s, "s").astype(str) for s in seconds]
    payload = _csv(
        {"created_at": list(map(str, seconds)), "account": list(map(str, seconds)), "iso": iso, "label": _label()}
    )

    schema, table = _schema(payload)

    created, account = schema.columns["created_at"], schema.columns["account"]
    assert (created["role"], created["format"], created["reason"]) == (
        "datetime",
        "epoch_s",
        "epoch seconds: derived numeric parts",
    )
    assert account["kind"] == "identifier"  # the same values under another name: unique integers, not dates
    values = dict(zip([f.name for f in schema.features], dataset.feature_columns(table, schema), strict=True))
    for part in created["parts"]:
        np.testing.assert_allclose(values[f"created_at__{part}"], values[f"iso__{part}"])
    assert created["epoch"] == schema.columns["iso"]["epoch"]


def test_a_column_of_mixed_date_forms_is_not_read_as_dates():
    days = _dates()
    mixed = [_written(d, "ymd_slash" if i % 2 else "dmy_dot") for i, d in enumerate(days)]

    column = _schema(_csv({"when": mixed, "x": ["1", "2"] * (ROWS // 2), "label": _label()}))[0].columns["when"]

    assert column["role"] != "datetime"


# ---- numbers and booleans -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("{:,.2f}", lambda x: round(x, 2)),
        ("${:,.2f}", lambda x: round(x, 2)),
        ("€{:,.0f}", lambda x: float(round(x))),
        ("{:,.2f} £", lambda x: round(x, 2)),
        ("{:.1f}%", lambda x: round(x, 1) / 100),
    ],
    ids=["thousands", "dollars", "euros", "pounds-after", "percent"],
)
def test_each_number_form_is_read_as_numbers_and_recorded(written, value):
    rng = np.random.default_rng(1)
    amounts = rng.uniform(-50, 90_000, ROWS)
    payload = _csv({"amount": [written.format(x) for x in amounts], "label": _label()})

    schema, table = _schema(payload)

    column = schema.columns["amount"]
    assert (column["role"], column["kind"], column["format"]) == ("feature", "numeric", "number")
    (read,) = dataset.feature_columns(table, schema)
    np.testing.assert_allclose(read, [value(x) for x in amounts])


def test_a_number_column_written_with_separators_is_no_longer_an_identifier_and_nothing_warns():
    payload = _csv({"price": [f"{x:,.2f}" for x in np.linspace(1000, 9000, ROWS)], "label": _label()})

    column = _schema(payload)[0].columns["price"]

    assert column["role"] == "feature" and "warning" not in column


def test_yes_no_words_are_a_binary_feature():
    words = ["Yes", "no", "Y", "n", "TRUE", "false", ""]
    cells = [words[i % len(words)] for i in range(ROWS)]

    schema, table = _schema(_csv({"member": cells, "label": _label()}))

    assert (schema.columns["member"]["kind"], schema.columns["member"]["format"]) == ("boolean", "boolean")
    (read,) = dataset.feature_columns(table, schema)
    expected = [
        {"yes": 1.0, "y": 1.0, "true": 1.0, "no": 0.0, "n": 0.0, "false": 0.0}.get(c.lower(), np.nan) for c in cells
    ]
    np.testing.assert_array_equal(read, expected)


def test_an_excluded_column_that_looks_numeric_is_warned_about_and_printed():
    # Given a unique integer identifier and a string id whose values are mostly numbers
    codes = [str(1000 + i) for i in range(ROWS)]
    payload = _csv(
        {
            "customer": codes,
            "ref": [f"{c}A" if i % 10 == 0 else f"{c}.5" for i, c in enumerate(codes)],
            "x": ["1", "2"] * (ROWS // 2),
            "label": _label(),
        }
    )

    schema = _schema(payload)[0]

    assert schema.columns["customer"]["role"] == "id"
    assert schema.columns["customer"]["warning"].startswith("looks numeric (its values are numbers) but is excluded")
    assert schema.columns["ref"]["role"] == "id"
    assert schema.columns["ref"]["warning"].startswith("looks numeric (90% of its sampled values read as numbers)")
    out = io.StringIO()
    print_columns({"columns": schema.columns, "read_as": schema.read_as}, out)
    printed = out.getvalue().splitlines()
    assert "  read as     csv, delimiter ',', encoding utf-8" in printed
    assert f"  excluded    customer: {schema.columns['customer']['reason']}" in printed
    assert f"  excluded    ref: {schema.columns['ref']['reason']}" in printed
    assert sum(line.startswith("  warning     ") for line in printed) == 2


# ---- delimiters, encodings, signatures --------------------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_each_delimiter_is_sniffed_recorded_and_reads_the_same_table(delimiter):
    # Given a table with a quoted cell holding the other delimiters
    columns = {
        "size": ["1,5", "2", "3;4", "5"] * 10,
        "note": ["a|b", "c\td", "e", "f,g;h"] * 10,
        "label": ["x", "y"] * 20,
    }
    comma = dataset.read_table(_csv(columns))

    table = dataset.read_table(_csv(columns, delimiter))

    assert table.read_as["delimiter"] == delimiter
    assert table == comma


def test_decimal_commas_in_a_semicolon_file_do_not_sway_the_delimiter():
    assert sniff.detect_delimiter("price;qty\n1,50;2\n2,75;3\n") == ";"
    assert sniff.detect_delimiter('name,quote\nA,"x; y; z"\nB,"p; q"\n') == ","


def test_the_delimiter_and_encoding_are_settled_from_the_sample_only():
    # Given a UTF-8 start longer than the sample, then Windows-1252 bytes: the sample settles UTF-8, the rest is refused
    head = _csv({"city": ["Zurich"] * 9000, "label": ["a", "b"] * 4500})
    assert len(head) > sniff.SAMPLE_BYTES
    with pytest.raises(InvalidDataset, match=r"byte 0xfc, which Windows-1252 reads as 'ü' at byte \d+; re-save"):
        dataset.read_table(head + "Zürich,a\n".encode("cp1252"))


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused_with_the_byte_named():
    with pytest.raises(InvalidDataset, match=r"byte 0x9d at byte 11; re-save the file as UTF-8"):
        dataset.read_table(b"name,label\n\x9d\x81,1\n")


def test_a_windows_1252_file_with_its_euro_sign_and_quotes_is_decoded_and_recorded():
    payload = "item,price,label\n“Café”,€1.200,1\nBière,€950,0\n".encode("cp1252")

    table = dataset.read_table(payload)

    assert table.read_as == {"format": "csv", "delimiter": ",", "encoding": "cp1252"}
    assert table.column("item").categories == ["“Café”", "Bière"]


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_xlsx(), r"an Excel workbook \(.xlsx\), not CSV: export it as CSV \(UTF-8\)"),
        (sniff.OLE2_MAGIC + b"\x00" * 600, r"a legacy Excel workbook \(.xls\), not CSV: export it as CSV"),
        (b"PK\x03\x04" + b"\x14\x00" * 20 + b"data.bin", r"a ZIP archive \(an Excel .xlsx workbook is one\), not CSV"),
        ("a,b\n1,2\n".encode("utf-16"), r"UTF-16 text .*re-save it as CSV UTF-8"),
    ],
    ids=["xlsx", "xls", "zip", "utf-16"],
)
def test_spreadsheets_and_binary_files_are_recognised_by_their_signature(payload, message):
    with pytest.raises(InvalidDataset, match=message):
        dataset.read_table(payload)


def test_a_parquet_file_is_recognised_and_read_or_refused_with_what_to_do():
    try:
        import pyarrow  # noqa: F401, PLC0415
    except ImportError:
        with pytest.raises(InvalidDataset, match=r"Parquet file, .*no pyarrow.*pandas.read_parquet\(path\).to_csv"):
            dataset.read_table(b"PAR1" + b"\x00" * 16)
    else:
        pytest.skip("pyarrow is installed here: Parquet is read")


# ---- the predict path reads the raw forms -------------------------------------------------------------------------
def _messy(rows: int = ROWS) -> bytes:
    rng = np.random.default_rng(5)
    days = _dates(7, rows)
    return _csv(
        {
            "day": [_written(d, "dmy_slash") for d in days],
            "month": [_written(d, "mon_year") for d in days],
            "ts": [str(1_600_000_000 + int(s)) for s in rng.integers(0, 10**7, rows)],
            "price": [f"${x:,.2f}" for x in rng.uniform(10, 20_000, rows)],
            "rate": [f"{x:.1f}%" for x in rng.uniform(0, 40, rows)],
            "member": ["yes" if x else "no" for x in rng.integers(0, 2, rows)],
            "label": _label(rows),
        },
        ";",
    )


def test_the_endpoint_reads_each_raw_form_as_training_did_in_rows_and_columns():
    schema, table = _schema(_messy())
    records = [dataset.input_record(table, schema, row) for row in range(20)]
    assert records[0]["price"].startswith("$") and records[0]["day"].count("/") == 2  # the raw forms

    by_rows = validate_instances(records, schema)
    by_columns = validate_inputs({name: [r[name] for r in records] for name in records[0]}, schema)

    expected = dataset.feature_matrix(table.take(np.arange(20)), schema).astype(float)
    np.testing.assert_allclose(np.hstack(by_rows), expected)
    np.testing.assert_allclose(np.hstack(by_columns), expected)


def test_the_endpoint_also_takes_plain_json_values_for_written_numbers_booleans_and_epoch_seconds():
    schema, table = _schema(_messy())
    record = dataset.input_record(table, schema, 0)
    plain = {**record, "price": formats.parse_number(record["price"]), "member": record["member"] == "yes"}
    plain["ts"] = int(record["ts"])

    np.testing.assert_allclose(
        np.hstack(validate_instances([plain], schema)), np.hstack(validate_instances([record], schema))
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("day", "2019-02-25", r"feature 'day' is not a date written day first, like 31/03/2018: '2019-02-25'"),
        ("month", "March 5", r"feature 'month' is not a month written like Mar-2018"),
        ("price", "about 5", r"feature 'price' must be a number \(written as in training, like '\$1,200' or '12.5%'\)"),
        ("member", "maybe", r"feature 'member' must be yes/no, true/false, y/n, 1/0 or null, not 'maybe'"),
        ("member", 2, r"feature 'member' must be yes/no"),
        ("ts", True, r"feature 'ts' must be a time in epoch seconds or null, not bool"),
    ],
)
def test_a_raw_value_in_another_form_is_refused_naming_the_form(column, value, message):
    schema, table = _schema(_messy())
    record = {**dataset.input_record(table, schema, 0), column: value}

    with pytest.raises(InvalidInstances, match=rf"row 0: {message}"):
        validate_instances([record], schema)


class _Recorder:
    """A model that keeps the columns it was given."""

    runtime = "onnx"

    def __init__(self) -> None:
        self.columns: list[np.ndarray] = []

    def predict(self, columns: list[np.ndarray]) -> Predictions:
        self.columns = columns
        return Predictions(["a"] * len(columns[0]), None, None)


def test_batch_scoring_reads_the_raw_forms_of_a_csv_as_training_did():
    schema, table = _schema(_messy())
    names = table.names
    records = [dataset.input_record(table, schema, row) for row in range(30)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")  # batch input is comma-separated: "$1,200" is quoted
    for record in records:
        writer.writerow(["" if record.get(n) is None else str(record.get(n, "a")) for n in names])
    model = _Recorder()
    served = SimpleNamespace(version=1, schema=schema, model=model)
    job = PlannedJob(
        job_id="20260101T000000Z-0e8a3b1e", model_name="m", alias="production", version=1,
        input_uri="s3://b/in.csv", size_bytes=1, header_end=1, chunks=1, capture=False, plan_bucket="b",
        plan_key="p.json", output_uri="s3://b/out/", errors_uri="s3://b/errors/", started_at="2026-01-01T00:00:00Z",
    )  # fmt: skip

    outcome = score_rows(job, 0, parse_chunk(buffer.getvalue().encode(), 0, names), served)

    assert (outcome.scored, outcome.invalid, outcome.errors) == (30, 0, b"")
    expected = dataset.feature_matrix(table.take(np.arange(30)), schema).astype(float)
    np.testing.assert_allclose(np.hstack(model.columns).astype(float), expected)
    first = next(csv.DictReader(io.StringIO(outcome.output.decode())))  # CSV out for CSV in, the default
    assert first["prediction"] == "a"


def test_a_column_the_request_names_a_datetime_needs_only_the_epoch_range():
    rng = np.random.default_rng(4)
    seconds = list(map(str, 1_514_764_800 + rng.integers(0, 10**8, ROWS)))
    table = dataset.read_table(_csv({"account": seconds, "small": list(map(str, range(ROWS))), "label": _label()}))

    schema, _ = dataset.infer_schema(table, "label", roles=ColumnRoles(datetime_columns=("account",)))

    assert (schema.columns["account"]["role"], schema.columns["account"]["format"]) == ("datetime", "epoch_s")
    with pytest.raises(InvalidDataset, match=r"column 'small' is named a datetime column but only 0% of its values"):
        dataset.infer_schema(table, "label", roles=ColumnRoles(datetime_columns=("small",)))


def test_the_drift_check_maps_captured_raw_values_to_the_features_training_computed():
    schema, table = _schema(_messy())
    records = [dataset.input_record(table, schema, row) for row in range(25)]

    mapped = model_features(schema)(records)

    expected = dataset.feature_matrix(table.take(np.arange(25)), schema).astype(float)
    got = np.array([[row[f.name] for f in schema.features] for row in mapped], dtype=float)
    np.testing.assert_allclose(got, expected)
