"""docs/dashboard.png and docs/dashboard-changes.png: the registry dashboard after `make demo`'s story (two
trainings, monitored traffic, drift confirmed, a drift-triggered retraining), rendered by headless Chromium from the
local gateway at 1280 px wide: the overview with the model's health over time, then what changed and the card.

    python -m tools.dashboard_screenshot [--output docs/dashboard.png] [--height 1100]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import demo_monitoring
from local.runs.training import run_training
from local.stack import LocalStack
from local.template import ROOT
from tools.headless import BROWSER, Page

CANDIDATES = (
    [{"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}}],
    [{"estimator": "decision_tree", "params": {"max_depth": 3}}],
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dashboard_screenshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1100)
    arguments = parser.parse_args(argv)
    if BROWSER is None:
        print("no Chromium: apt-get install -y chromium", file=sys.stderr)
        return 2
    with LocalStack(parameters={"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}) as stack:
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/breast-cancer.csv", Body=breast_cancer_csv())
        base = {
            "model_name": "breast-cancer",
            "dataset_uri": f"s3://{stack.bucket}/datasets/breast-cancer.csv",
            "target": "target",
            "description": "Classify a breast mass as benign (1) or malignant (0) from digitised FNA features.",
            "gate": {"metric": "f1", "min_score": 0.9},
            "requested_by": "make demo",
        }
        for candidates in CANDIDATES:
            run_training(stack, {**base, "candidates": candidates})
        demo_monitoring(stack, "breast-cancer", breast_cancer_csv(), io.StringIO(), None)
        gateway = LocalGateway(stack, port=0).start()
        try:
            with Page.open(gateway.url + "/dashboard", width=arguments.width, height=arguments.height) as page:
                assert page.evaluate("document.documentElement.scrollWidth") <= arguments.width, "scrolls sideways"
                changes = page.evaluate("document.querySelector('table.compare').getBoundingClientRect().top")
                shots = {
                    arguments.output: page.screenshot(top=0, height=arguments.height, width=arguments.width),
                    arguments.output.with_name(arguments.output.stem + "-changes.png"): page.screenshot(
                        top=changes + page.evaluate("scrollY") - 40, height=arguments.height, width=arguments.width
                    ),
                }
        finally:
            gateway.stop()
    for path, png in shots.items():
        path.write_bytes(png)
        print(f"{path} ({len(png) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
