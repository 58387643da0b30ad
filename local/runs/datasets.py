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
