"""Artifacts in S3 (moto): URIs, write-once content addressing, verified loading."""

from __future__ import annotations

import pytest
import sklearn
from sklearn.linear_model import LogisticRegression

from mlops.errors import ArtifactIntegrityError, InvalidDataset, LibraryVersionMismatch
from mlops.storage import objects
from mlops.storage.objects import S3Uri


@pytest.mark.parametrize("bad", ["", "http://x/y", "s3://", "s3://bucket", "s3://bucket/", "s3:///key", None])
def test_malformed_uris_are_refused(bad):
    with pytest.raises(ValueError, match="s3://"):
        S3Uri.parse(bad)


def test_uri_round_trip():
    uri = S3Uri.parse("s3://bucket/a/b/c.csv")
    assert (uri.bucket, uri.key, str(uri)) == ("bucket", "a/b/c.csv", "s3://bucket/a/b/c.csv")


def test_write_once_keeps_the_first_content(stack):
    uri = S3Uri(stack.bucket, "models/m/x.joblib")
    payload = b"model bytes"
    digest = objects.sha256_hex(payload)
    objects.put_write_once(uri, payload, digest)
    objects.put_write_once(uri, payload, digest)  # same content again: a no-op

    with pytest.raises(ArtifactIntegrityError, match="does not hash"):
        objects.put_write_once(uri, b"other", digest)
    other_digest = objects.sha256_hex(b"other")
    stack.client("s3").put_object(Bucket=stack.bucket, Key="models/m/y.joblib", Body=b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="exists with other content"):
        objects.put_write_once(S3Uri(stack.bucket, "models/m/y.joblib"), b"other", other_digest)
    assert objects.get_bytes(uri) == payload


def test_a_model_loads_only_when_digest_and_library_version_match(stack):
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    payload = objects.dump_model(model)
    uri = S3Uri(stack.bucket, "models/m/lr.joblib")
    digest = objects.put_bytes(uri, payload)

    loaded = objects.load_model(uri, digest, sklearn.__version__)
    assert loaded.predict([[0.0], [3.0]]).tolist() == [0, 1]
    with pytest.raises(ArtifactIntegrityError, match="the registry recorded"):
        objects.load_model(uri, "0" * 64, sklearn.__version__)
    with pytest.raises(LibraryVersionMismatch, match=r"trained with scikit-learn 0\.24\.2"):
        objects.load_model(uri, digest, "0.24.2")


def test_missing_datasets_are_named_errors(stack):
    with pytest.raises(InvalidDataset, match="NoSuchKey"):
        objects.open_dataset(f"s3://{stack.bucket}/datasets/absent.csv")
    with pytest.raises(InvalidDataset, match="NoSuchBucket"):
        objects.open_dataset("s3://no-such-bucket-here/x.csv")
    with pytest.raises(InvalidDataset, match="s3://"):
        objects.open_dataset("/local/path.csv")


def test_json_documents_are_canonical(stack):
    uri = S3Uri(stack.bucket, "doc.json")
    first = objects.put_json(uri, {"b": 1, "a": [1.5, "x"]})
    second = objects.put_json(uri, {"a": [1.5, "x"], "b": 1})
    assert first == second
    assert objects.get_json(uri) == {"a": [1.5, "x"], "b": 1}
    with pytest.raises(ValueError):
        objects.put_json(uri, {"x": float("inf")})


def test_a_dataset_stream_hashes_the_whole_object_however_much_was_read(stack):
    payload = b"a,b\n" + b"1,2\n" * 300_000  # larger than one read
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/big.csv", Body=payload)

    stream = objects.open_dataset(f"s3://{stack.bucket}/datasets/big.csv")
    head = stream.read(1000)

    assert head == payload[:1000]
    assert stream.hexdigest() == objects.sha256_hex(payload)
    assert stream.size == len(payload)
