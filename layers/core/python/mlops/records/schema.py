"""A dataset's schema: the model's features, the target and the task (standard library only).

Apart from ``mlops.data.dataset`` (numpy) so the step contracts can type the schema the state machine carries
without loading numpy; the state carries ``Schema.to_dict()`` and the contracts validate it back into a Schema.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Task = Literal["classification", "regression"]
FeatureKind = Literal["numeric", "categorical", "text"]  # text: a string vectorised by the model


@dataclass(frozen=True)
class Feature:
    """A model input. Derived features name their ``source`` column and datetime ``part``; a pooled
    categorical lists the ``categories`` it keeps (the rest become columns.OTHER_CATEGORY)."""

    name: str
    kind: FeatureKind
    source: str | None = None
    part: str | None = None
    categories: list[str] | None = None

    @property
    def input_column(self) -> str:
        return self.source or self.name

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Schema:
    features: list[Feature]
    target: str
    task: Task
    classes: list[str] | None = None
    positive_class: str | None = None
    dropped_rows_missing_target: int = 0
    notes: list[str] = field(default_factory=list)
    # every input column → {"role", "kind", "reason", ...}; empty for versions trained before column roles
    columns: dict[str, dict] = field(default_factory=dict)
    # how the file was read: {"format": "csv", "delimiter": ";", "encoding": "cp1252", "compression": "gzip", ...}
    read_as: dict[str, str] = field(default_factory=dict)

    @property
    def numeric_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.kind == "numeric"]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.kind == "categorical"]

    @property
    def text_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.kind == "text"]

    @property
    def input_columns(self) -> list[str]:
        """The input columns the model needs, in schema order, each once."""
        return list(dict.fromkeys(f.input_column for f in self.features))

    def to_dict(self) -> dict:
        return {**asdict(self), "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, document: dict) -> Schema:
        features = [Feature(**f) for f in document["features"]]
        return cls(**{**document, "features": features})
