"""A training run's working files in S3, as every step after Prepare reads them back.

Prepare writes the run's schema (a ``DocumentRef``: URI + sha256) and its splits (typed tables as ``.npz``); Train,
Evaluate and Convert load them here, the schema only if it still hashes to the digest the state carries.
"""

from __future__ import annotations

import numpy as np

from mlops.data import dataset, typed_table
from mlops.errors import InvalidStepInput
from mlops.records.steps import DocumentRef, PreparedDataset, validated_schema
from mlops.storage import objects
from mlops.storage.objects import S3Uri


def put_document(uri: S3Uri, document: object) -> DocumentRef:
    """Write a document that grows with the data once; the state carries its URI, sha256 and size."""
    digest, size = objects.put_document(uri, document)
    return DocumentRef(uri=str(uri), sha256=digest, size_bytes=size)


def load_schema(ref: DocumentRef) -> dataset.Schema:
    """The run's schema, read from S3 only if it hashes to the digest the state carries."""
    try:
        return validated_schema(objects.get_verified_json(ref.uri, ref.sha256))
    except ValueError as exc:
        raise InvalidStepInput(f"{ref.uri}: {exc}") from exc


def load_table(split_uri: str) -> dataset.Table:
    """One split as the typed table Prepare stored."""
    return typed_table.from_npz(objects.get_bytes(S3Uri.parse(split_uri)))


def load_matrices(prepared: PreparedDataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's (feature matrix, target) from the typed table Prepare stored."""
    schema = load_schema(prepared.schema_ref)
    table = load_table(prepared.splits.uri(name))
    return dataset.feature_matrix(table, schema), dataset.target_vector(table, schema)
