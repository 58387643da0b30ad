"""Check template.yaml offline, with no AWS account: cfn-lint on the template, cfn-lint on its SAM translation,
and `sam validate --lint` when the SAM CLI's virtual environment exists.

    python -m tools.check_template [--template PATH]    # exit status 0 only when no check reports an error

Only errors fail the run; warnings are printed. The translation is linted as SAM produces it, and part of
what SAM generates draws warnings that no edit of template.yaml can remove (a `DependsOn` the translator adds
next to a `Ref` that implies it, W3005; a parameter that offline translation resolves to its default inside
an API usage plan, W2001). Failing on those would make the check fail for the translator's choices, not ours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file
from cfnlint.match import Match
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

from local.template import ROOT, TEMPLATE_PATH, load_template

REGION = "us-east-1"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
FAKE_S3_URI = "s3://offline-check/{}"


class BundledManagedPoliciesOnly:
    """The translator looks managed policies up in the map bundled with samtranslator first and asks this loader
    only for a name missing from it, where sam validate's loader would call IAM. Offline there is nothing more to
    know: the name stays as written and cfn-lint reports it as an invalid policy ARN (E3031), at its place."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict[str, Any], base: Path) -> dict[str, Any]:
    """The SAM transform, offline, as `sam validate` runs it (local code paths replaced by fake S3 URIs).

    A state machine's local ASL file is then inlined as `Definition`: CloudFormation accepts it in place of the
    S3 location `sam package` would upload, and cfn-lint checks an inline definition against the ASL schema.
    """
    uri_properties = {
        "AWS::Serverless::Function": "CodeUri",
        "AWS::Serverless::LayerVersion": "ContentUri",
        "AWS::Serverless::StateMachine": "DefinitionUri",
    }
    asl_files = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        uri_property = uri_properties.get(resource["Type"])
        if uri_property and isinstance(properties.get(uri_property), str):
            if uri_property == "DefinitionUri":
                asl_files[logical_id] = base / properties[uri_property]
            properties[uri_property] = FAKE_S3_URI.format(logical_id)
    translated = transform(template, {}, BundledManagedPoliciesOnly())
    for logical_id, asl_file in asl_files.items():
        properties = translated["Resources"][logical_id]["Properties"]
        del properties["DefinitionS3Location"]
        properties["Definition"] = json.loads(asl_file.read_text())
    return translated


def lint(path: Path, label: str) -> bool:
    """Run cfn-lint on one file; print every finding; True when there is no error."""
    matches: list[Match] = lint_file(path, config=ManualArgs(regions=[REGION]))
    errors = [m for m in matches if m.rule.id.startswith("E")]
    print(f"cfn-lint {label}: {len(errors)} error(s), {len(matches) - len(errors)} warning(s) or note(s)")
    for match in matches:
        where = "/".join(str(part) for part in match.path) if match.path else f"line {match.linenumber}"
        print(f"  {match.rule.id} {match.message} (at {where})")
    return not errors


def check_translation(template_path: Path) -> bool:
    try:
        translated = translate(load_template(template_path), template_path.parent)
    except InvalidDocumentException as exc:
        print("samtranslator: the template does not translate")
        for cause in exc.causes:
            print(f"  {cause.message}")
        return False
    print(f"samtranslator: {len(translated['Resources'])} CloudFormation resources (offline, bundled policy map)")
    with tempfile.TemporaryDirectory(prefix="check-template-") as scratch:
        translated_path = Path(scratch) / "translated.json"
        translated_path.write_text(json.dumps(translated, indent=2))
        return lint(translated_path, "on the SAM translation")


def sam_validate(template_path: Path) -> bool:
    if not SAM.exists():
        print(f"sam validate --lint: skipped ({os.path.relpath(SAM, ROOT)} does not exist; `make sam-venv` creates it)")
        return True
    environment = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    environment.setdefault("AWS_DEFAULT_REGION", REGION)
    command = [str(SAM), "validate", "--lint", "--template", str(template_path)]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    print(f"sam validate --lint: {'ok' if result.returncode == 0 else f'failed (exit status {result.returncode})'}")
    for line in (result.stdout + result.stderr).splitlines():
        print(f"  {line}")
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.check_template", description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH, help="default: %(default)s")
    template_path = parser.parse_args(argv).template.resolve()
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)  # samtranslator derives the partition from it
    print(f"checking {template_path}")
    results = [lint(template_path, template_path.name), check_translation(template_path), sam_validate(template_path)]
    print("template checks: " + ("passed" if all(results) else "FAILED"))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
