"""Which engine trains a run's candidates: the Train function (Lambda) or a SageMaker training job.

The Train function holds a candidate's training matrices in memory. ``python -m bench.step_memory`` measured each
default candidate's peak memory on a 20-column table (15 numeric, 4 categorical, a label) at two sizes: a fixed
part of 227-256 MiB (the imports) and 2.2-4.6 MiB of memory per MiB of CSV (docs/data.md). Candidates fit from
lean matrices (``mlops.training.lean``: float32 or float64 columns built from the typed splits, sparse one-hot), so
the largest, random forest at 4.64, is mostly the forest it grows, not its matrix. That table's CSV holds 7.39 bytes
per cell (14.1 MiB for 100,000 rows x 20 columns), so a candidate costs about 4.64 x 7.39 = 34.3, rounded up to 35
bytes of memory per cell. Counting cells (rows x columns, which Prepare knows) rather than CSV bytes keeps the
estimate independent of how many digits the file spells a number with.

    estimated Train memory = FIXED_MIB + rows x columns x bytes_per_cell
    the Train function holds it when the estimate is within HEADROOM x its MemorySize

With the template's defaults (MemorySize 3,008 MB, 35 bytes per cell) that is (0.8 x 3008 - 260) MiB / 35 B
= 64.3 million cells, e.g. 3.2 million rows x 20 columns, ~450 MiB of CSV of the benchmark's shape (the benchmark
puts the hard limit at ~590 MiB for random forest; the headroom covers wider one-hot encodings and the allocator's
slack). Before the lean matrices it was 106 bytes per cell (an object matrix, dense one-hot): 22.1 million cells.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.errors import InvalidTrainingRequest
from mlops.records.request import ComputeEngine
from mlops.settings import ComputeSettings

FIXED_MIB = 260  # the largest fixed part measured (random_forest: 256 MiB)
HEADROOM = 0.8  # of MemorySize: the estimate is linear, the allocator and wider encodings are not
MIB = 2**20


@dataclass(frozen=True)
class ComputeDecision:
    engine: ComputeEngine
    reason: str
    estimated_train_mib: int


def estimated_train_mib(rows: int, columns: int, bytes_per_cell: float) -> int:
    return round(FIXED_MIB + rows * columns * bytes_per_cell / MIB)


def lambda_cell_limit(memory_mb: int, bytes_per_cell: float) -> int:
    """The most cells (rows x columns) one candidate may have to train inside the Train function."""
    return max(0, int((HEADROOM * memory_mb - FIXED_MIB) * MIB / bytes_per_cell))


def choose(requested: ComputeEngine | None, rows: int, columns: int, settings: ComputeSettings) -> ComputeDecision:
    """The request's engine if it names one (refused if the stack cannot run it), else Lambda unless the data is
    above what the Train function holds and the stack has a training image."""
    estimate = estimated_train_mib(rows, columns, settings.train_bytes_per_cell)
    fits = rows * columns <= lambda_cell_limit(settings.train_memory_mb, settings.train_bytes_per_cell)
    size = (
        f"{rows:,} rows x {columns} columns: ~{estimate:,} MiB estimated for one candidate, "
        f"{'within' if fits else 'above'} {HEADROOM:.0%} of the Train function's {settings.train_memory_mb:,} MB"
    )
    if requested == "sagemaker" and not settings.sagemaker_available:
        raise InvalidTrainingRequest(
            "invalid training request: compute: sagemaker needs a training image (the stack's TrainingImageUri "
            "parameter is empty)"
        )
    if requested is not None:
        return ComputeDecision(requested, f"requested ({size})", estimate)
    if fits:
        return ComputeDecision("lambda", f"default ({size})", estimate)
    if settings.sagemaker_available:
        return ComputeDecision("sagemaker", f"by size ({size})", estimate)
    return ComputeDecision("lambda", f"default, no training image on this stack ({size})", estimate)
