"""tools/built_artifacts.py and tools/size_check.py: which layers each function gets, and the budgets."""

from __future__ import annotations

from pathlib import Path

from local.template import ROOT, load_template
from tools import size_check
from tools.built_artifacts import built_functions, unzipped_size

TEMPLATE = load_template()


def test_each_function_is_listed_once_per_set_of_layers_the_parameters_can_give_it() -> None:
    # the source template stands in for the built one: CodeUri and ContentUri are folders relative to it
    functions = built_functions(TEMPLATE, build_dir=ROOT)
    predict = {f.variant: [name for name, _ in f.layers] for f in functions if f.logical_id == "PredictFunction"}
    train = [f for f in functions if f.logical_id == "TrainFunction"]
    sklearn_predict = [f for f in functions if f.logical_id == "PredictSklearnFunction"]

    assert predict == {
        "ServingRuntime=onnx": ["CoreLayer", "ServingLayer"],
        "ServingRuntime=sklearn": ["CoreLayer", "MlLayer"],
    }
    assert [(f.variant, [name for name, _ in f.layers]) for f in train] == [("", ["CoreLayer", "MlLayer"])]
    assert train[0].code_dir == ROOT / "functions" / "train"
    assert [(f.variant, [name for name, _ in f.layers]) for f in sklearn_predict] == [("", ["CoreLayer", "MlLayer"])]
    assert train[0].layer_paths == [ROOT / "layers" / "core" / "python" / "python", ROOT / "layers" / "ml" / "python"]


def test_overrides_fix_a_parameter_instead_of_varying_it() -> None:
    functions = built_functions(TEMPLATE, build_dir=ROOT, overrides={"ServingRuntime": "sklearn"})

    assert [f.variant for f in functions if f.logical_id == "PredictFunction"] == [""]


def test_budgets_are_100_mib_for_the_onnx_endpoint_220_for_convert_and_200_mib_for_everything_else() -> None:
    budgets = {(f.logical_id, f.variant): size_check.budget_mib(f) for f in built_functions(TEMPLATE, build_dir=ROOT)}

    assert budgets.pop(("PredictFunction", "ServingRuntime=onnx")) == 100
    assert budgets.pop(("ConvertFunction", "")) == 220  # the three layers; under Lambda's 250
    assert budgets[("PredictSklearnFunction", "")] == 200
    assert set(budgets.values()) == {200}
    assert size_check.LAMBDA_LIMIT_BYTES == 250 * 2**20


def test_unzipped_size_is_the_sum_of_the_file_sizes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one").write_bytes(b"x" * 1000)
    (tmp_path / "two").write_bytes(b"y" * 24)

    assert unzipped_size(tmp_path) == 1024
