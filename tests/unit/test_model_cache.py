"""The predict function's model cache is bounded by bytes and drops the least recently served model first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlops.errors import ModelNotFound
from mlops.serving.cache import ModelCache

SCHEMA = {"features": [{"name": "x", "kind": "numeric"}], "target": "y", "task": "regression"}
MIB = 1024 * 1024


class Registry:
    """Models m0, m1, ... each with a production version whose artifact has the size given."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.canaries: dict[str, int] = {}
        self.version_reads = 0

    def get_alias(self, model_name: str, alias: str):
        if model_name not in self.sizes:
            return None
        canary = self.canaries.get(model_name)
        return SimpleNamespace(version=1, canary_version=canary, canary_weight=0.5 if canary else 0.0)

    def get_version(self, model_name: str, version: int):
        self.version_reads += 1
        digest = f"{model_name}-v{version}"
        return SimpleNamespace(
            model_name=model_name,
            version=version,
            status="Registered",
            serving=SimpleNamespace(served_by="onnx", onnx_uri=f"s3://bucket/{digest}.onnx", onnx_sha256=digest),
            artifact_uri=f"s3://bucket/{digest}.joblib",
            artifact_sha256=digest + "-joblib",
            schema_document=SCHEMA,  # inline, as a version registered before the documents moved to S3
            schema_uri=None,
            schema_sha256=None,
            input_example={"x": 1.0},
        )


def make_cache(sizes: dict[str, int], max_bytes: int) -> tuple[ModelCache, Registry, list[str]]:
    registry = Registry(sizes)
    cache = ModelCache(registry, "onnx", 3600.0, "bucket", max_bytes=max_bytes)
    fetched: list[str] = []

    def load(record, uri, digest, schema):  # stands for fetching, verifying and opening the artifact
        fetched.append(digest)
        return SimpleNamespace(runtime="onnx", digest=digest), sizes[record.model_name]

    cache._load = load  # type: ignore[method-assign]
    return cache, registry, fetched


def test_the_least_recently_served_model_is_dropped_when_the_bytes_exceed_the_bound():
    # Given a 100 MiB cache and three 40 MiB models
    cache, _, fetched = make_cache({"a": 40 * MIB, "b": 40 * MIB, "c": 40 * MIB}, max_bytes=100 * MIB)
    cache.choose("a")
    cache.choose("b")
    cache.choose("a")  # a is now more recent than b
    # When a third model is served
    cache.choose("c")
    # Then b, the least recently served, was dropped; a and c stay, within the bound
    assert cache.cached_digests() == ["a-v1", "c-v1"]
    assert cache.cached_bytes == 80 * MIB
    assert cache.evictions == 1
    assert fetched == ["a-v1", "b-v1", "c-v1"]
    # And serving b again loads it again, dropping a (now the least recent)
    cache.choose("b")
    assert fetched == ["a-v1", "b-v1", "c-v1", "b-v1"]
    assert cache.cached_digests() == ["c-v1", "b-v1"]
    assert cache.cached_bytes == 80 * MIB


def test_a_dropped_model_is_held_by_no_version_and_no_route():
    cache, registry, _ = make_cache({"a": 60 * MIB, "b": 60 * MIB}, max_bytes=100 * MIB)
    first = cache.choose("a")
    cache.choose("b")
    # a's version and route are forgotten with its model: the next request resolves it again
    reads = registry.version_reads
    again = cache.choose("a")
    assert registry.version_reads == reads + 1
    assert again.model is not first.model
    assert cache.cached_digests() == ["a-v1"]


def test_cached_models_are_served_without_loading_and_the_bound_holds_over_many_models():
    sizes = {f"m{i}": (i % 5 + 1) * MIB for i in range(40)}
    cache, _, fetched = make_cache(sizes, max_bytes=12 * MIB)
    for round_ in range(3):
        for name in sizes:
            served = cache.choose(name)
            assert served.model.digest == f"{name}-v1"
            assert cache.cached_bytes <= 12 * MIB
            assert cache.cached_bytes == sum(sizes[d.split("-")[0]] for d in cache.cached_digests())
        assert len(fetched) == 40 * (round_ + 1)  # a cycle larger than the cache reloads every model
    # a hot model is not reloaded while it stays among the most recently served
    loads = cache.loads
    for _ in range(10):
        cache.choose("m39")
    assert cache.loads == loads


def test_a_model_larger_than_the_bound_is_served_and_kept_alone():
    cache, _, _ = make_cache({"small": 1 * MIB, "huge": 30 * MIB}, max_bytes=10 * MIB)
    cache.choose("small")
    assert cache.choose("huge").model.digest == "huge-v1"
    assert cache.cached_digests() == ["huge-v1"]
    assert cache.cached_bytes == 30 * MIB


def test_production_and_canary_are_both_held_when_they_fit():
    cache, registry, fetched = make_cache({"a": 10 * MIB}, max_bytes=100 * MIB)
    registry.canaries["a"] = 2
    versions = {cache.choose("a", draw=lambda d=d: d).version for d in (0.1, 0.9)}
    assert versions == {1, 2}
    assert sorted(cache.cached_digests()) == ["a-v1", "a-v2"]
    assert fetched == ["a-v1", "a-v2"]


def test_an_unknown_model_loads_nothing():
    cache, _, fetched = make_cache({"a": MIB}, max_bytes=10 * MIB)
    with pytest.raises(ModelNotFound):
        cache.choose("nope")
    assert fetched == []
    assert cache.cached_bytes == 0


def test_the_bound_must_be_positive():
    with pytest.raises(ValueError, match="positive size"):
        ModelCache(Registry({}), "onnx", 1.0, "bucket", max_bytes=0)
