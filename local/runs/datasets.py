"""Bundled datasets for the demo and tests, made from scikit-learn's own copies (no download)."""

from __future__ import annotations

import csv
import io

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes


def breast_cancer_csv() -> bytes:
    """scikit-learn's breast-cancer set with its column names; target 1 = benign, 0 = malignant."""
    bunch = load_breast_cancer()
    return _csv(list(bunch.feature_names), bunch.data, bunch.target, "target")


def diabetes_csv() -> bytes:
    """scikit-learn's diabetes regression set (disease progression after one year)."""
    bunch = load_diabetes(scaled=False)
    return _csv(list(bunch.feature_names), bunch.data, bunch.target, "progression")


def _csv(feature_names: list[str], features: np.ndarray, target: np.ndarray, target_name: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*feature_names, target_name])
    for row, label in zip(features.tolist(), target.tolist(), strict=True):
        writer.writerow([*(repr(v) for v in row), label])
    return buffer.getvalue().encode()


_PRAISE = ("great", "excellent", "love it", "perfect fit", "works well", "happy with", "recommend", "sturdy", "fast")
_COMPLAINT = (
    "broken",
    "terrible",
    "waste of money",
    "disappointed",
    "stopped working",
    "returned it",
    "flimsy",
    "slow",
)
_FILLER = (
    "the",
    "product",
    "this",
    "it",
    "was",
    "and",
    "I",
    "my",
    "after",
    "a",
    "week",
    "box",
    "really",
    "quite",
    "for",
)


def reviews_csv(rows: int = 1200, *, seed: int = 0, numbers: bool = False) -> bytes:
    """A generated product-review table: free text (mixed case, punctuation, commas, a few empty reviews) whose words
    carry the sentiment, with 8 % of the labels flipped; with ``numbers`` also a price and a helpfulness count (the
    count weakly tied to the label). Target ``sentiment``: ``positive`` or ``negative``."""
    rng = np.random.default_rng(seed)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["review", *(["price", "helpful_votes"] if numbers else []), "sentiment"])
    for _ in range(rows):
        positive = bool(rng.random() < 0.5)
        words = [
            *rng.choice(_FILLER, size=int(rng.integers(4, 12))),
            *rng.choice(_PRAISE if positive else _COMPLAINT, 2),
        ]
        if rng.random() < 0.25:  # a word of the other side: "great, but it stopped working"
            words.append(str(rng.choice(_COMPLAINT if positive else _PRAISE)))
        order = rng.permutation(len(words))
        text = ", ".join(" ".join(words[i] for i in part) for part in np.array_split(order, 2)).capitalize()
        text = "" if rng.random() < 0.01 else text + str(rng.choice([".", "!", "?!", " :)", ""]))
        label = positive if rng.random() >= 0.08 else not positive
        extra = [f"{rng.gamma(2.0, 15.0):.2f}", str(int(rng.poisson(3 + 2 * positive)))] if numbers else []
        writer.writerow([text, *extra, "positive" if label else "negative"])
    return buffer.getvalue().encode()
