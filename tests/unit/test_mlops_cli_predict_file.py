"""`mlops predict --data` reads the file the way training read the table: its delimiter and its encoding."""

from __future__ import annotations

import pytest

from mlops_cli.commands.predict import _delimiter, _read_columns
from mlops_cli.context import CliError


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_training_reads_is_read(tmp_path, delimiter):
    # Given a file written with this delimiter, a cell holding a comma where it is not the delimiter
    amount = '"$1,097.98"' if delimiter == "," else "$1,097.98"
    lines = [delimiter.join(["id", "amount", "plan"]), delimiter.join(["C1", amount, "pro"])]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # When it is read; Then its columns are the header's, whatever the delimiter
    assert _read_columns(str(path), "id") == {"id": ["C1"], "amount": ["$1,097.98"], "plan": ["pro"]}


def test_a_single_column_file_and_a_tie_fall_back_to_the_comma():
    assert _delimiter("a\n1\n2\n") == ","
    assert _delimiter("a,b;c\n1,2;3\n") == ","


def test_a_windows_1252_file_is_decoded_and_anything_else_is_refused_in_words(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes("city;label\nMünchen;yes\n".encode("cp1252"))
    assert _read_columns(str(path), None) == {"city": ["München"], "label": ["yes"]}
    path.write_bytes(b"city;label\n\x81\x8d\x8f;yes\n")  # bytes cp1252 leaves undefined
    with pytest.raises(CliError, match="re-save it as UTF-8"):
        _read_columns(str(path), None)
