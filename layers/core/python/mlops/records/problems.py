"""Validation problems in words: what a caller is told about a field the door refused, never a regular expression or
a Python type error. pydantic's messages are kept where they already read as words ("should be greater than or
equal to 1"); a pattern becomes a description of the names it admits, a wrong type names the type wanted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlops.records.batch import CLIENT_TOKEN_PATTERN, JOB_ID_PATTERN
from mlops.records.registry import ALIAS_NAME_PATTERN, MODEL_NAME_PATTERN, NAME_WORDS, TAG_KEY_PATTERN, TAG_KEY_WORDS

TAG_FIELDS = ("key", "tag", "tags")  # where the name pattern is a tag key's (the two rules are one expression)
PATTERN_WORDS = {
    MODEL_NAME_PATTERN: f"a model name is {NAME_WORDS}, e.g. churn-model",
    ALIAS_NAME_PATTERN: "an alias name is 1 to 32 characters: lower-case letters, digits or '-', starting with a "
    "letter, e.g. staging",
    r"^[A-Za-z0-9_.:-]+$": "a client token is letters, digits, '_', '.', ':' or '-' (no spaces), e.g. a UUID",
    CLIENT_TOKEN_PATTERN: "a client token is 1 to 128 letters, digits, '_', '.', ':' or '-' (no spaces), e.g. a UUID",
    r"^[A-Za-z0-9_-]{1,80}$": "an execution id is 1 to 80 letters, digits, '_' or '-', as the start answered it",
    JOB_ID_PATTERN: "a batch job id is the job_id the start answered (e.g. 20261201T101500Z-1a2b3c4d)",
    r"^s3://[^/]+/.+": "must be the s3:// URI of an object, e.g. s3://my-bucket/path/table.csv",
    r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$": "must be the s3:// URI of an object (a bucket name, then a key "
    "without spaces), e.g. s3://my-bucket/path/table.csv",
    r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S{1,1024}$": "must be the s3:// URI of an object (a bucket name, then "
    "a key of at most 1,024 characters without spaces), e.g. s3://my-bucket/path/table.csv",
    r"^[0-9a-f]{64}$": "must be a sha256 digest: 64 lower-case hexadecimal digits",
    r"\S": "must not be blank",
}
TYPE_WORDS = {
    "string_type": "must be text (a JSON string)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "none_required": "is not accepted here",
    "json_invalid": "is not valid JSON",
    "finite_number": "must be a finite number",
}


def in_words(problem: Mapping[str, Any]) -> str:
    """One pydantic error (``ValidationError.errors()`` item) as words about its field."""
    kind = str(problem.get("type", ""))
    if kind == "string_pattern_mismatch":
        pattern = str((problem.get("ctx") or {}).get("pattern", ""))
        if pattern == TAG_KEY_PATTERN and any(str(part) in TAG_FIELDS for part in problem.get("loc", ())):
            return TAG_KEY_WORDS
        return PATTERN_WORDS.get(pattern, "has characters or a form this field does not accept")
    if kind in TYPE_WORDS:
        return TYPE_WORDS[kind]
    message = str(problem.get("msg") or kind or "is invalid")
    return message.removeprefix("Value error, ")


def field_of(problem: Mapping[str, Any]) -> str:
    return ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "request"


def plain_problems(problems: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The problems as an answer's ``detail``: field (``loc``), kind and message in words, nothing else (no pattern,
    no echo of the input)."""
    return [
        {
            "loc": [str(p) for p in problem.get("loc", ())],
            "type": str(problem.get("type", "")),
            "msg": in_words(problem),
        }
        for problem in problems
    ]


def summary(problems: Iterable[Mapping[str, Any]]) -> str:
    """``field: words; field: words``."""
    return "; ".join(f"{field_of(problem)}: {in_words(problem)}" for problem in problems)
