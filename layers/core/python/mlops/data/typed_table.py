"""The typed table every room reads the data as: numeric columns as float64 arrays (NaN for missing), the others as
int32 codes into a list of categories (``MISSING_CODE`` for missing), never a Python string per cell; and its
``.npz`` form, the splits Prepare stores and every later step loads without parsing. numpy and the standard library
only.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

MISSING_CODE = -1


@dataclass(frozen=True, eq=False)
class NumericColumn:
    name: str
    values: np.ndarray  # float64, NaN for missing

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, NumericColumn)
            and other.name == self.name
            and np.array_equal(other.values, self.values, equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]

    def take(self, indices: np.ndarray) -> NumericColumn:
        return NumericColumn(self.name, self.values[indices])


@dataclass(frozen=True, eq=False)
class CategoricalColumn:
    name: str
    codes: np.ndarray  # int32 into categories, MISSING_CODE for missing
    categories: list[str]  # stripped, distinct, in order of first appearance

    def __eq__(self, other: object) -> bool:
        """Equal values, row by row (however the categories are numbered)."""
        return (
            isinstance(other, CategoricalColumn)
            and other.name == self.name
            and np.array_equal(other.strings(), self.strings())
        )

    __hash__ = None  # type: ignore[assignment]

    def take(self, indices: np.ndarray) -> CategoricalColumn:
        return CategoricalColumn(self.name, self.codes[indices], self.categories)

    def strings(self, missing: str | None = None) -> np.ndarray:
        """The values as an object array (``missing`` where missing)."""
        lookup = np.array([*self.categories, missing], dtype=object)
        return lookup[self.codes]


Column = NumericColumn | CategoricalColumn


@dataclass(frozen=True)
class TypedTable:
    columns: list[Column]
    rows: int
    # how the file was read (reader: format, delimiter, encoding): said of the table, not part of its values
    read_as: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return self.columns[self.names.index(name)]

    def take(self, indices: np.ndarray) -> TypedTable:
        return TypedTable([c.take(indices) for c in self.columns], len(indices), self.read_as)

    @property
    def nbytes(self) -> int:
        return sum(c.values.nbytes if isinstance(c, NumericColumn) else c.codes.nbytes for c in self.columns)


# ---- typed tables as .npz (the splits Prepare stores) ----------------------------------------------------
def write_npz(table: TypedTable, stream: BinaryIO, rows: np.ndarray | None = None) -> None:
    """A typed table (or the given ``rows`` of it) as an uncompressed .npz: no pickles (numbers float64, codes
    int32, names and categories unicode arrays), loaded back without parsing. The members are written one column at
    a time, so a split is never held as a whole copy beside the table it comes from (what numpy.savez would need)."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:

        def member(name: str, values: np.ndarray) -> None:
            with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(values), allow_pickle=False)

        member("names", np.array(table.names, dtype=np.str_))
        for i, column in enumerate(table.columns):
            if isinstance(column, NumericColumn):
                member(f"v{i}", column.values if rows is None else column.values[rows])
            else:
                member(f"c{i}", column.codes if rows is None else column.codes[rows])
                member(f"k{i}", np.array(column.categories, dtype=np.str_))


def from_npz(payload: bytes) -> TypedTable:
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        columns: list[Column] = []
        for i, name in enumerate(arrays["names"].tolist()):
            if f"v{i}" in arrays:
                columns.append(NumericColumn(name, arrays[f"v{i}"]))
            else:
                columns.append(CategoricalColumn(name, arrays[f"c{i}"], arrays[f"k{i}"].tolist()))
    rows = columns[0].values.size if isinstance(columns[0], NumericColumn) else columns[0].codes.size
    return TypedTable(columns, rows)
