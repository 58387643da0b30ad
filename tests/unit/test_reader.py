"""The streaming reader: typed columns equal to what the string parser sees, by chunk, plain or gzip."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from mlops.data import columns, dataset, reader
from mlops.data.typed_table import MISSING_CODE, CategoricalColumn, NumericColumn
from mlops.errors import InvalidDataset
from tests.unit.test_columns import _table

CSV = (
    b"\xef\xbb\xbfsize,colour,mostly_numbers,nothing,label\n"
    b"1.5,red,1,,yes\n"
    b"NA, green ,2,NA,no\n"
    b"inf,red,3,null,yes\n"
    b"-2e3,,4,,no\n"
    b"7,blue,six,?,yes\n"
)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_a_csv_becomes_typed_columns_whatever_the_chunk_size(chunk_rows):
    table = reader.read_dataset(CSV, chunk_rows=chunk_rows)

    assert table.rows == 5
    assert table.names == ["size", "colour", "mostly_numbers", "nothing", "label"]
    size = table.column("size")
    assert isinstance(size, NumericColumn)
    np.testing.assert_array_equal(size.values, [1.5, np.nan, np.nan, -2000.0, 7.0])
    colour = table.column("colour")
    assert isinstance(colour, CategoricalColumn)
    assert colour.strings("__missing__").tolist() == ["red", "green", "red", "__missing__", "blue"]
    assert colour.codes.dtype == np.int32
    # numbers seen before the first text (in earlier chunks) come back as the text they were
    assert table.column("mostly_numbers").strings().tolist() == ["1", "2", "3", "4", "six"]
    nothing = table.column("nothing")
    assert isinstance(nothing, NumericColumn) and np.isnan(nothing.values).all()


def test_gzip_is_detected_by_its_magic_bytes():
    plain, compressed = reader.read_dataset(CSV), reader.read_dataset(gzip.compress(CSV))

    assert compressed.names == plain.names and compressed.rows == plain.rows
    for left, right in zip(compressed.columns, plain.columns, strict=True):
        if isinstance(left, NumericColumn):
            np.testing.assert_array_equal(left.values, right.values)
        else:
            assert left.strings().tolist() == right.strings().tolist()


def test_a_file_path_is_streamed(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(CSV))

    assert reader.read_dataset(path).rows == 5


def test_parquet_without_pyarrow_is_refused_clearly():
    try:
        import pyarrow  # noqa: F401, PLC0415
    except ImportError:
        with pytest.raises(InvalidDataset, match=r"Parquet file, but this deployment has no pyarrow"):
            reader.read_dataset(b"PAR1" + b"\x00" * 16)
    else:
        pytest.skip("pyarrow is installed here: Parquet is read")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", r"empty"),
        (b"a,b\n", r"header but no rows"),
        (b"a,b\n1,2\n3\n", r"line 3 has 1 fields; the header has 2"),
        (b"a,a\n1,2\n", r"duplicate"),
        (b"a,b\n\x81\x9d,1\n", r"not UTF-8 text: byte 0x81 at byte 4; re-save the file as UTF-8"),
    ],
)
def test_broken_files_are_invalid_datasets(payload, message):
    with pytest.raises(InvalidDataset, match=message):
        reader.read_dataset(payload)


def test_roles_do_not_depend_on_the_chunk_size():
    payload = dataset.to_csv(_table(1500))

    small = reader.decide_roles(reader.read_dataset(payload, chunk_rows=7), "label", columns.ColumnRoles())
    large = reader.decide_roles(reader.read_dataset(payload, chunk_rows=100_000), "label", columns.ColumnRoles())

    assert small == large
    by_name = {d.name: d for d in small}
    assert (by_name["name"].role, by_name["row"].role, by_name["comment"].kind) == ("id", "id", "text")
    assert by_name["city"].categories is not None and 0 < len(by_name["city"].categories) <= columns.MAX_CATEGORIES
    assert by_name["signed_up"].epoch is not None and "hour" in (by_name["signed_up"].parts or ())


def test_typed_columns_are_compact():
    rows = 5000
    rng = np.random.default_rng(0)
    body = "\n".join(f"{rng.normal():.6f},{'abc'[i % 3]}" for i in range(rows))
    table = reader.read_dataset(f"x,c\n{body}\n".encode())

    assert table.nbytes == rows * 8 + rows * 4
    assert set(table.column("c").codes.tolist()) == {0, 1, 2}
    assert MISSING_CODE not in table.column("c").codes
