"""`drift`: compare two CSV files with the drift check's statistics, with no stack."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from local.cli.common import EXIT_FAILED, UsageError


def drift_command(args: argparse.Namespace) -> int:
    from local.runs import drift_files  # noqa: PLC0415 - only this command needs it
    from mlops.errors import InvalidMonitoringConfig  # noqa: PLC0415
    from mlops.monitoring.config import DriftConfig  # noqa: PLC0415
    from mlops.monitoring.reports import render_html  # noqa: PLC0415

    for path in (args.reference, args.current):
        if not Path(path).is_file():
            raise UsageError(f"not a file: {path}")
    try:
        config = DriftConfig.from_dict(json.loads(args.config) if args.config else None)
        result = drift_files.compare_files(Path(args.reference), Path(args.current), config)
    except (json.JSONDecodeError, InvalidMonitoringConfig, drift_files.CsvProblem) as exc:
        raise UsageError(str(exc)) from None
    if args.html:
        Path(args.html).write_text(render_html(result))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        drift_files.print_summary(result, sys.stdout)
        if args.html:
            print(f"report: {args.html}")
    return EXIT_FAILED if args.fail_on_drift and result["dataset_drift"] else 0


def add_drift(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser("drift", help="compare two CSV files with the drift check's statistics")
    check.add_argument("--reference", required=True, help="CSV of the reference data (e.g. the training data)")
    check.add_argument("--current", required=True, help="CSV of the current data (read in chunks)")
    check.add_argument("--json", action="store_true", help="print one JSON object (the shape of report.json)")
    check.add_argument("--html", metavar="OUT.html", help="also write the self-contained HTML report there")
    check.add_argument("--config", help='JSON object of drift settings, e.g. {"psi_threshold": 0.2}')
    check.add_argument("--fail-on-drift", action="store_true", help="exit with 1 when the data drifted")
    check.set_defaults(run=drift_command)
