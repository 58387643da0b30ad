"""The statistics of a drift comparison, on count vectors: p-values (Kolmogorov, chi-square, normal), the
multiple-testing corrections, the population stability index, Jensen–Shannon distance and the chi-square test of
homogeneity. numpy and math only.

p-values are computed here (Kolmogorov distribution, regularised incomplete gamma) rather than with scipy.stats:
importing scipy.stats costs ~1 s of cold start and scipy.special ~0.4 s; the tests check these against scipy.
"""

from __future__ import annotations

import math

import numpy as np

from mlops.errors import InvalidMonitoringConfig

PSI_EPSILON = 1e-4  # shares are floored at this before PSI's logarithm (an empty bin is not infinitely different)
MIN_EXPECTED_COUNT = 5.0  # chi-square cells expected to hold fewer rows are pooled (the test's usual validity rule)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the limit law of sqrt(n)·D)."""
    if x <= 0:
        return 1.0
    if x < 1.0:  # the theta-function form converges fast for small x
        total = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 12))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2 * math.pi) / x * total))
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 40))
    return min(1.0, max(0.0, 2.0 * total))


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """Two-sample KS p-value with Stephens' small-sample correction of the effective size n·m/(n+m)."""
    if n == 0 or m == 0:
        return 1.0
    effective = math.sqrt(n * m / (n + m))
    return kolmogorov_sf((effective + 0.12 + 0.11 / effective) * statistic)


def upper_gamma_regularised(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x)/Γ(a): series below a+1, Lentz's continued fraction above (Numerical Recipes 6.2)."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, max(0.0, 1.0 - total * math.exp(log_prefix)))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, max(0.0, math.exp(log_prefix) * h))


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X > statistic) for a chi-square distribution with ``dof`` degrees of freedom."""
    if dof <= 0:
        return 1.0
    return upper_gamma_regularised(dof / 2.0, statistic / 2.0)


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def adjust_p_values(p_values: np.ndarray, method: str) -> np.ndarray:
    """Multiple-testing adjusted p-values (vectorised): Holm step-down, Benjamini–Hochberg step-up, Bonferroni."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, ranked * (m - np.arange(m))))
    elif method == "bh":
        adjusted = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
        adjusted = np.minimum(1.0, adjusted)
    else:
        raise InvalidMonitoringConfig(f"unknown correction {method!r}")
    result = np.empty(m)
    result[order] = adjusted
    return result


def psi_rows(reference_counts: np.ndarray, current_counts: np.ndarray) -> np.ndarray:
    """Population stability index of each row of two (features × buckets) count matrices (zero-padded)."""
    reference = np.asarray(reference_counts, dtype=float)
    current = np.asarray(current_counts, dtype=float)
    reference_totals = np.maximum(reference.sum(axis=1, keepdims=True), 1.0)
    current_totals = np.maximum(current.sum(axis=1, keepdims=True), 1.0)
    p = np.maximum(reference / reference_totals, PSI_EPSILON)
    q = np.maximum(current / current_totals, PSI_EPSILON)
    used = (reference > 0) | (current > 0)  # padding cells contribute nothing
    return np.where(used, (q - p) * np.log(q / p), 0.0).sum(axis=1)


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, within [0, 1]) of two count vectors."""
    p = reference_counts / max(reference_counts.sum(), 1)
    q = current_counts / max(current_counts.sum(), 1)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(math.sqrt(max(0.0, (kl_p + kl_q) / 2)))


def chi2_homogeneity(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test that two count vectors come from one distribution (2×K table); cells expected to hold fewer
    than MIN_EXPECTED_COUNT rows in either sample are pooled. Returns (statistic, degrees of freedom, p-value)."""
    reference = np.asarray(reference_counts, dtype=float)
    current = np.asarray(current_counts, dtype=float)
    keep = (reference + current) > 0
    reference, current = reference[keep], current[keep]
    n_ref, n_cur = reference.sum(), current.sum()
    if n_ref == 0 or n_cur == 0 or reference.size < 2:
        return 0.0, 0, 1.0
    column = reference + current
    expected_min = column * min(n_ref, n_cur) / (n_ref + n_cur)
    small = expected_min < MIN_EXPECTED_COUNT
    if small.any():
        pooled_ref, pooled_cur = reference[small].sum(), current[small].sum()
        reference, current = reference[~small], current[~small]
        pooled_min = (pooled_ref + pooled_cur) * min(n_ref, n_cur) / (n_ref + n_cur)
        if pooled_min >= MIN_EXPECTED_COUNT or reference.size == 0:
            reference, current = np.append(reference, pooled_ref), np.append(current, pooled_cur)
        else:  # still too small on its own: merge it into the smallest remaining cell
            smallest = int(np.argmin(reference + current))
            reference[smallest] += pooled_ref
            current[smallest] += pooled_cur
    if reference.size < 2:
        return 0.0, 0, 1.0
    total = n_ref + n_cur
    column = reference + current
    expected_ref = column * n_ref / total
    expected_cur = column * n_cur / total
    statistic = float(
        (((reference - expected_ref) ** 2) / expected_ref + ((current - expected_cur) ** 2) / expected_cur).sum()
    )
    dof = int(reference.size - 1)
    return statistic, dof, chi2_sf(statistic, dof)
