"""tools/build_layer.py: what the layers install for which machine, and the checks that make a trim safe."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local.template import ROOT, load_template, resources_of_type
from tools import build_layer, elf
from tools.build_layer import LAYERS, Trim

TEMPLATE = load_template()
TEMPLATE_LAYERS = resources_of_type(TEMPLATE, "AWS::Serverless::LayerVersion")


def requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]  # not `-r other.txt`


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- the specs against the template and the pins ------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE_LAYERS))
def test_every_makefile_layer_of_the_template_has_a_spec_for_its_folder(logical_id: str) -> None:
    layer = TEMPLATE_LAYERS[logical_id]
    if layer.get("Metadata", {}).get("BuildMethod") != "makefile":
        pytest.skip("built by SAM's own builder")

    assert logical_id in LAYERS, f"tools/build_layer.py has no LayerSpec for {logical_id}"
    assert (ROOT / LAYERS[logical_id].folder).resolve() == (ROOT / layer["Properties"]["ContentUri"]).resolve()
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert f"-m tools.build_layer {logical_id} " in makefile


@pytest.mark.parametrize("logical_id", sorted(LAYERS))
def test_a_layer_installs_exact_pins_only_and_lists_each_package_once(logical_id: str) -> None:
    spec = LAYERS[logical_id]
    pins = [r for name in spec.requirement_files for r in requirements(ROOT / spec.folder / name)]
    names = [canonicalize_name(r.name) for r in pins]

    assert pins, f"{logical_id} installs nothing"
    assert all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in pins), pins
    assert len(names) == len(set(names)), f"{logical_id} lists a package twice: {sorted(names)}"
    assert not {canonicalize_name(name) for name in spec.omitted} & set(names), "a package is both shipped and omitted"


def test_the_core_layer_leaves_the_lambda_runtimes_packages_to_the_runtime() -> None:
    spec = LAYERS["CoreLayer"]
    shipped = {
        canonicalize_name(r.name) for name in spec.requirement_files for r in requirements(ROOT / spec.folder / name)
    }
    runtime = {canonicalize_name(r.name) for r in requirements(ROOT / "requirements-lambda-runtime.txt")}

    assert not shipped & (runtime - {"jmespath"}), "boto3/botocore and their dependencies come with the runtime"


def test_the_runtime_stand_in_is_pinned_as_the_dev_environment() -> None:
    dev = {canonicalize_name(r.name): str(r.specifier) for r in requirements(ROOT / "requirements-dev.txt")}
    runtime = {
        canonicalize_name(r.name): str(r.specifier) for r in requirements(ROOT / "requirements-lambda-runtime.txt")
    }

    assert {name: runtime[name] for name in ("boto3", "botocore")} == {
        name: dev[name] for name in ("boto3", "botocore")
    }


# ---- architecture ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("architecture", "machine"), [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_pip_is_asked_for_manylinux_wheels_of_the_target_machine_up_to_amazon_linux_2023(
    architecture: str, machine: str
) -> None:
    options = build_layer.pip_platform_options(architecture)
    platforms = {options[i + 1] for i, option in enumerate(options) if option == "--platform"}

    assert "--only-binary=:all:" in options
    assert {f"manylinux_2_17_{machine}", f"manylinux_2_28_{machine}", f"manylinux_2_34_{machine}"} <= platforms
    assert f"manylinux_2_35_{machine}" not in platforms  # newer than the runtime's glibc 2.34
    assert all(p.endswith(machine) for p in platforms)


def build_graph(folder: Path, layer: str, architecture: str) -> Path:
    return write(
        folder / "build.toml",
        f'[layer_build_definitions.abc]\nlayer_name = "{layer}"\narchitecture = "{architecture}"\nlayer = "{layer}"\n',
    )


def test_the_architecture_comes_from_sams_build_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_ARCHITECTURE", raising=False)
    build_graph(tmp_path / ".aws-sam", "MlLayer", "arm64")

    assert build_layer.target_architecture("MlLayer", tmp_path / ".aws-sam" / "build" / "MlLayer") == "arm64"
    assert build_layer.target_architecture("MlLayer", tmp_path / "elsewhere" / "MlLayer") == "x86_64"


def test_a_build_graph_that_disagrees_with_lambda_architecture_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_graph(tmp_path / ".aws-sam", "MlLayer", "x86_64")
    monkeypatch.setenv("LAMBDA_ARCHITECTURE", "arm64")

    with pytest.raises(SystemExit):
        build_layer.target_architecture("MlLayer", tmp_path / ".aws-sam" / "build" / "MlLayer")


# ---- trims and their checks ---------------------------------------------------------------------------------------


def test_module_names_of_removed_paths(tmp_path: Path) -> None:
    package = write(tmp_path / "pkg" / "sub" / "tests" / "__init__.py").parent
    module = write(tmp_path / "pkg" / "helper.py")
    extension = write(tmp_path / "pkg" / "_fast.cpython-313-x86_64-linux-gnu.so")
    library = write(tmp_path / "pkg" / "libthing.so.1.2.3")
    header = write(tmp_path / "pkg" / "thing.h")

    assert build_layer.module_name(tmp_path, package) == "pkg.sub.tests"
    assert build_layer.module_name(tmp_path, module) == "pkg.helper"
    assert build_layer.module_name(tmp_path, extension) == "pkg._fast"
    assert build_layer.module_name(tmp_path, library) is None
    assert build_layer.module_name(tmp_path, header) is None


def package_with_tests(root: Path, user_code: str) -> Path:
    write(root / "pkg" / "__init__.py")
    write(root / "pkg" / "tests" / "__init__.py")
    write(root / "pkg" / "tests" / "helpers.py", "VALUE = 1\n")
    write(root / "pkg" / "core.py", user_code)
    return root


@pytest.mark.parametrize(
    "user_code",
    ["from .tests import helpers\n", "from pkg.tests.helpers import VALUE\n", "import pkg.tests.helpers\n"],
)
def test_a_trim_that_removes_an_imported_module_fails_the_build(tmp_path: Path, user_code: str) -> None:
    # Given a package whose library code imports its tests package
    root = package_with_tests(tmp_path, user_code)
    # When the tests are trimmed
    removed = build_layer.trim(root, (Trim(("**/tests",), "test suites"),))
    # Then the check refuses the trimmed layer
    with pytest.raises(SystemExit):
        build_layer.check_no_import_of_removed(root, removed, {})


def test_a_trim_nothing_imports_passes_and_an_accepted_reference_is_allowed(tmp_path: Path) -> None:
    root = package_with_tests(tmp_path / "clean", "import json\n")
    build_layer.check_no_import_of_removed(root, build_layer.trim(root, (Trim(("**/tests",), "t"),)), {})

    root = package_with_tests(tmp_path / "accepted", "def debug():\n    from .tests import helpers\n")
    removed = build_layer.trim(root, (Trim(("**/tests",), "t"),))
    build_layer.check_no_import_of_removed(root, removed, {"pkg/core.py": "only a debugging helper imports it"})

    assert not (root / "pkg" / "tests").exists()


def test_kept_paths_survive_their_trim(tmp_path: Path) -> None:
    root = package_with_tests(tmp_path, "from .tests import helpers\n")

    build_layer.trim(root, (Trim(("**/tests",), "t", keep=("pkg/tests",)),))

    assert (root / "pkg" / "tests" / "helpers.py").is_file()


def test_a_data_trim_is_refused_when_the_repositorys_code_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "repo" / "functions" / "api" / "app.py", "app.enable_swagger(path='/docs')\n")
    write(tmp_path / "layer" / "swagger.js", "ui")
    monkeypatch.setattr(build_layer, "ROOT", tmp_path / "repo")
    monkeypatch.setattr(build_layer, "GUARDED_SOURCES", ("functions",))

    with pytest.raises(SystemExit):
        build_layer.trim(tmp_path / "layer", (Trim(("swagger.js",), "assets", unless_used="enable_swagger"),))
    assert (tmp_path / "layer" / "swagger.js").is_file()


@pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() in ("x86_64", "aarch64")), reason="needs a Linux ELF build"
)
def test_a_trimmed_library_that_an_extension_still_links_fails_the_build(tmp_path: Path) -> None:
    # Given numpy's core extension module and the OpenBLAS it links, as pip installs them
    import numpy

    numpy_dir = Path(numpy.__file__).parent
    extension = next((numpy_dir / "_core").glob("_multiarray_umath.*.so"))
    libraries = numpy_dir.parent / "numpy.libs"
    layer = tmp_path / "layer"
    (layer / "numpy" / "_core").mkdir(parents=True)
    shutil.copy(extension, layer / "numpy" / "_core" / extension.name)
    shutil.copytree(libraries, layer / "numpy.libs")
    architecture = elf.read(extension).architecture
    # When a trim removes the OpenBLAS library
    removed = build_layer.trim(layer, (Trim(("numpy.libs/*openblas*",), "pretend it is unused"),))
    # Then the link check refuses the layer
    assert removed
    with pytest.raises(SystemExit):
        build_layer.check_links(layer, removed, architecture)


def test_lightgbms_openmp_is_the_ml_layers_lib_libgomp_and_it_is_linked_by_name(tmp_path: Path) -> None:
    # Given the ML layer's spec: lib_lightgbm.so links libgomp.so.1, which the spec copies from scikit-learn's wheel
    import lightgbm
    import sklearn

    lightgbm_library = Path(lightgbm.__file__).parent / "lib" / "lib_lightgbm.so"
    assert "libgomp.so.1" in elf.read(lightgbm_library).needed
    spec = LAYERS["MlLayer"]
    layer = tmp_path / "artifacts" / "python"
    vendored = next((Path(sklearn.__file__).parent.parent / "scikit_learn.libs").glob("libgomp-*.so*"))
    write(layer / "scikit_learn.libs" / vendored.name).write_bytes(vendored.read_bytes())
    # When the libraries are copied; Then lib/ holds it under the name lightgbm links
    build_layer.copy_system_libraries(spec, layer, tmp_path / "artifacts" / "lib")
    assert (tmp_path / "artifacts" / "lib" / "libgomp.so.1").read_bytes() == vendored.read_bytes()
    # and a layer without the source file fails the build rather than shipping a LightGBM that cannot load
    with pytest.raises(SystemExit):
        build_layer.copy_system_libraries(spec, tmp_path / "empty", tmp_path / "empty-lib")
