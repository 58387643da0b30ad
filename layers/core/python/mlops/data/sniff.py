"""What a dataset file is, from its first bytes: a spreadsheet or other binary file refused by its signature with what
to do instead, the text encoding (UTF-8, or Windows-1252 when the sample says so unambiguously) and the CSV delimiter
(comma, semicolon, tab or pipe). Everything here looks at one sample from the start of the file (``SAMPLE_BYTES``),
never at the whole of it. Standard library only.

The delimiter rule, measured on the sample rather than guessed from character counts: each candidate parses the
sample's first records with the csv module (quotes honoured); a candidate qualifies when the header has two fields or
more and every following record has the header's width; the widest qualifying header wins, the comma on a tie.
``csv.Sniffer`` is not used: it agreed with this rule on the ten files tried (decimal commas in a semicolon file,
quoted cells holding other delimiters, tabs, pipes) but took 34 ms on a 64 KiB sample against 0.4 ms here (the rule
stops after ``SAMPLE_RECORDS``), raises where no character is consistent, and also guesses quoting; the rule asks
what the reader needs next (one width for every record), so it never picks a delimiter the first records break.
"""

from __future__ import annotations

import csv
import io
import itertools

from mlops.errors import InvalidDataset

SAMPLE_BYTES = 1 << 16
SAMPLE_RECORDS = 50
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc) files
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
TO_CSV = (
    "export it as CSV (UTF-8) and upload that: in pandas, pandas.read_{reader}(path).to_csv('data.csv', index=False)"
)
# Characters a Windows-1252 (or latin-1) text file holds beyond ASCII: letters of Western European languages and the
# usual symbols. A sample whose other bytes decode to anything else (C1 controls, box drawing) is not taken as one.
_CP1252_SYMBOLS = frozenset("€£¥¢°±²³µ·«»–—‘’‚“”„•…§©®™¼½¾×÷¿¡ªº¬¨´¸¯¦ \u00a0")


def refuse_binary(head: bytes) -> None:
    """A file that is a spreadsheet, an archive or UTF-16 text, named with what to do (InvalidDataset)."""
    if head.startswith(ZIP_MAGIC):
        what = (
            "an Excel workbook (.xlsx)"
            if b"[Content_Types].xml" in head or b"xl/" in head
            else "a ZIP archive (an Excel .xlsx workbook is one)"
        )
        raise InvalidDataset(f"the dataset is {what}, not CSV: {TO_CSV.format(reader='excel')}")
    if head.startswith(OLE2_MAGIC):
        raise InvalidDataset(f"the dataset is a legacy Excel workbook (.xls), not CSV: {TO_CSV.format(reader='excel')}")
    if head.startswith(UTF16_BOMS):
        raise InvalidDataset("the dataset is UTF-16 text (Excel's 'Unicode Text'); re-save it as CSV UTF-8")


def parquet_message() -> str:
    to_csv = TO_CSV.format(reader="parquet")
    return f"the dataset is a Parquet file, but this deployment has no pyarrow to read it; {to_csv}"


def _utf8(sample: bytes, complete: bool) -> str | None:
    """The sample as UTF-8 (a character cut at the sample's end forgiven), or None if it is not UTF-8."""
    try:
        return sample.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return sample[: exc.start].decode("utf-8-sig")
        return None


def _is_western(text: str) -> bool:
    return all(c.isascii() or c.isalpha() or c in _CP1252_SYMBOLS for c in text)


def detect_encoding(sample: bytes, complete: bool) -> str:
    """``utf-8`` when the sample is UTF-8 (ASCII included); ``cp1252`` when it is not but reads as Windows-1252
    (latin-1's printable characters are the same bytes) into letters and the usual symbols; otherwise
    InvalidDataset naming the first byte that is not UTF-8, with the hint to re-save the file as UTF-8.
    ``complete``: the sample is the whole file."""
    if _utf8(sample, complete) is not None:
        return "utf-8"
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and _is_western(text):
        return "cp1252"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDataset(not_utf8_message(sample[exc.start], exc.start)) from None
    raise AssertionError("unreachable: the sample is not UTF-8")  # pragma: no cover


def not_utf8_message(byte: int, offset: int) -> str:
    """The refusal of a byte that is not UTF-8: which byte, where, what Windows-1252 would make of it, what to do."""
    try:
        as_cp1252 = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        as_cp1252 = None
    seen = f", which Windows-1252 reads as {as_cp1252!r}" if as_cp1252 and as_cp1252.isprintable() else ""
    return (
        f"the dataset is not UTF-8 text: byte 0x{byte:02x}{seen} at byte {offset}; "
        "re-save the file as UTF-8 (in Excel: Save As, 'CSV UTF-8 (Comma delimited)')"
    )


def _width_if_consistent(text: str, delimiter: str) -> int:
    """The header's width when every sampled record has it under this delimiter, else 0."""
    records = [r for r in itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), SAMPLE_RECORDS) if r]
    if not records:
        return 0
    width = len(records[0])
    if width < 2 or any(len(record) != width for record in records[1:]):
        return 0
    return width


def detect_delimiter(text: str) -> str:
    """The delimiter by the rule in this module's docstring; the comma when no candidate qualifies (the reader then
    names what is wrong with the file)."""
    best, best_width = ",", 0
    for delimiter in DELIMITERS:
        try:
            width = _width_if_consistent(text, delimiter)
        except csv.Error:
            continue
        if width > best_width:
            best, best_width = delimiter, width
    return best


def settle(sample: bytes, complete: bool) -> tuple[str, str]:
    """(encoding, delimiter) of a CSV file from its first bytes."""
    refuse_binary(sample[:1024])
    if b"\x00" in sample:
        raise InvalidDataset("the dataset is not a text CSV file (it contains NUL bytes)")
    encoding = detect_encoding(sample, complete)
    cut = sample if complete else sample[: sample.rfind(b"\n") + 1] or sample
    text = cut.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    if not complete and cut is not sample:  # the last record may be cut inside a quoted cell: leave it out
        text = text[: text.rstrip("\r\n").rfind("\n") + 1] or text
    return encoding, detect_delimiter(text)
