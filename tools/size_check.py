"""After `sam build`: the unzipped size of each function plus all its layers, against Lambda's limit and our budgets.

    python -m tools.size_check [--architecture x86_64|arm64] [--build-dir .aws-sam/build] [--markdown]

Lambda refuses a function whose code and layers exceed 250 MB unzipped (262,144,000 bytes = 250 MiB; sizes here are
MiB). The budgets are tighter, so growth is noticed long before a deployment fails: PredictFunction with
ServingRuntime=onnx at most 100 MiB (the endpoint's cold start and SnapStart snapshot grow with it), every other
function (PredictSklearnFunction, which serves what ONNX cannot, and PredictFunction with ServingRuntime=sklearn) at
most 200 MiB. Each function is measured with every
set of layers the template's parameters can give it. The check also fails when a shared object in a function or
its layers is built for another machine than `--architecture` (layers built for x86_64, deployed on arm64).
Exit status 0 only when every function is within its budget.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools import elf
from tools.built_artifacts import BUILD_DIR, MIB, BuiltFunction, built_functions, unzipped_size

LAMBDA_LIMIT_BYTES = 262_144_000  # "250 MB" unzipped, function and layers together
DEFAULT_BUDGET_MIB = 200
BUDGETS_MIB = {  # (function, variant) -> budget
    ("PredictFunction", "ServingRuntime=onnx"): 100,
    ("PredictSklearnFunction", ""): DEFAULT_BUDGET_MIB,  # core + ML layers, like the training steps
    # the one function with all three layers: on arm64 (aarch64 wheels are larger) lightgbm (9.4 MiB) and onnxmltools
    # took it to 209.9 MiB; 30 MiB below Lambda's limit still
    ("ConvertFunction", ""): 220,
}


def budget_mib(function: BuiltFunction) -> int:
    return BUDGETS_MIB.get((function.logical_id, function.variant), DEFAULT_BUDGET_MIB)


def wrong_architecture(folders: list[Path], architecture: str) -> list[str]:
    return [
        f"{shared.path} is {shared.architecture}"
        for folder in folders
        for shared in elf.shared_objects(folder)
        if shared.architecture != architecture
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.size_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--architecture", choices=["x86_64", "arm64"], default="x86_64")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown (for the README)")
    arguments = parser.parse_args(argv)
    try:
        functions = built_functions(build_dir=arguments.build_dir)
    except FileNotFoundError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    folders = {f.code_dir for f in functions} | {folder for f in functions for _, folder in f.layers}
    sizes = {folder: unzipped_size(folder) for folder in folders}

    failures = []
    rows = []
    print(f"unzipped size of each function + its layers ({arguments.architecture}; MiB; Lambda's limit 250 MiB)")
    for function in functions:
        total = sizes[function.code_dir] + sum(sizes[folder] for _, folder in function.layers)
        budget = budget_mib(function)
        parts = " + ".join(f"{name} {sizes[folder] / MIB:.1f}" for name, folder in function.layers)
        within = total <= budget * MIB and total <= LAMBDA_LIMIT_BYTES
        name = function.logical_id + (f" ({function.variant})" if function.variant else "")
        code, verdict = sizes[function.code_dir] / MIB, "ok  " if within else "OVER"
        print(f"  {verdict} {name:45} {total / MIB:6.1f} / {budget:3d}  = code {code:.2f} + {parts}")
        rows.append((name, total / MIB, budget, parts))
        if not within:
            failures.append(f"{name}: {total / MIB:.1f} MiB > {budget} MiB")
    mismatched = wrong_architecture(sorted(folders), arguments.architecture)
    if mismatched:
        failures.append(f"{len(mismatched)} shared object(s) not built for {arguments.architecture}: {mismatched[0]}")
    if arguments.markdown:
        print("\n| function (+ layers) | unzipped MiB | budget MiB |\n|---|---|---|")
        for name, total, budget, parts in rows:
            print(f"| {name}: {parts} | {total:.1f} | {budget} |")
    if failures:
        print("size check: FAILED\n  " + "\n  ".join(failures))
        return 1
    print(f"size check: passed ({len(functions)} function configurations, all shared objects {arguments.architecture})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
