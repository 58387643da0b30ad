"""Build one Lambda layer for `sam build` (BuildMethod: makefile): install its pinned wheels for the target
architecture, trim what Lambda never loads, check the trim, and precompile the bytecode.

    python -m tools.build_layer LOGICAL_ID ARTIFACTS_DIR      # run by layers/<name>/Makefile, from the repo root

Standard library only: it runs under the interpreter the layer Makefile gets (`PYTHON`, else python3.13 on PATH),
which must be the runtime's Python version (3.13: the bytecode is compiled for it) and have pip.

What a layer holds and why (one `LayerSpec` each, below):
- Every distribution is pinned and installed with `--no-deps` from `requirements.txt` (the top-level pins, which
  a contract test holds equal to the repository's requirements.txt) and `dependencies.txt` (their dependencies
  the layer ships, pinned). Nothing unlisted enters a layer; what a listed package declares but is left out on
  purpose is named in `omitted` with the reason, and tools/smoke_built.py fails on any other missing dependency.
- Wheels only (`--only-binary=:all:`), for `manylinux_2_17`..`manylinux_2_34` on the target machine: Lambda's
  python3.13 runtime is Amazon Linux 2023 (glibc 2.34). For arm64 pip fetches the aarch64 wheels the same way,
  on any build machine.
- Trims are listed with their reason. After trimming the build fails if a remaining module imports a removed one
  (import statements, resolved, and module names inside extension modules), if a remaining shared object needs a
  removed library (ELF DT_NEEDED) or is built for another machine, and, when this machine can run the layer, if a
  clean interpreter cannot import the layer's modules (`import_check`). tools/smoke_built.py then runs the
  handlers on the built artifacts.
- Bytecode: Lambda's /opt is read-only, so a module without a .pyc is compiled again at every cold start. The core
  layer, which every function imports, ships .pyc files compiled with `--invalidation-mode unchecked-hash`
  (timestamp-checked ones would be ignored once zip extraction changes the mtimes): 5 MiB for ~0.3 s per cold
  start, measured here. The ML layer ships sources only: its .pyc files (31 MiB, ~1.9 s per cold start) would put
  ConvertFunction over its 200 MiB budget on both architectures; the training steps run inside a Step Functions
  pipeline, where a cold start is a small part of a run. The serving layer ships sources only too: its .pyc files
  (7.7 MiB, ~0.1 s) would take most of PredictFunction's headroom under 100 MiB, and the endpoint restores from a
  SnapStart snapshot taken after its imports.
- System libraries a wheel links without vendoring and Lambda's runtime lacks are copied to the layer's `lib/`
  (`/opt/lib`, on Lambda's `LD_LIBRARY_PATH`), from a wheel that vendors the same library (`system_libraries`).
  lightgbm's `lib_lightgbm.so` needs `libgomp.so.1`, which Amazon Linux 2023's minimal runtime image does not ship;
  scikit-learn's wheel vendors GNU OpenMP as `scikit_learn.libs/libgomp-<hash>.so.1.0.0` (0.25 MiB), which is copied.
  The import check loads the layer with `LD_LIBRARY_PATH` at that `lib/`, so the copy is the one it uses.
- Nothing is stripped: `strip` on auditwheel-patched extension modules breaks them ("ELF load command
  address/offset not page-aligned", seen in the smoke test when tried), and the `*.libs` libraries must stay intact.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run by path: make the repository importable for `tools.elf`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import elf

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_VERSION = "3.13"
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}  # Lambda's name -> the wheel platform's
GLIBC_MINORS = range(17, 35)  # manylinux_2_17 (manylinux2014) .. manylinux_2_34 (Amazon Linux 2023)


@dataclass(frozen=True)
class Trim:
    """Paths (globs relative to the layer's python/ folder) removed from a layer, and why that is safe."""

    patterns: tuple[str, ...]
    reason: str
    keep: tuple[str, ...] = ()  # globs of matches that stay: imported at run time although their names match
    # for files no import statement names (data, assets): a regular expression that, found in the repository's own
    # code (`GUARDED_SOURCES`), would mean the trimmed files are used; the build then fails instead of trimming
    unless_used: str | None = None


GUARDED_SOURCES = ("functions", "layers/core/python/mlops")  # the code the layers serve


# Applied to every layer. Each is also proven by the checks after trimming and by the built-artifact smoke test.
COMMON_TRIMS = (
    Trim(
        ("**/tests", "**/test"),
        "test suites, run by pytest; the check after trimming fails the build if a remaining module imports one "
        "(as a scipy.sparse importing numpy._core.tests would)",
    ),
    Trim(
        ("**/*.pyx", "**/*.pxd", "**/*.pxi", "**/*.h", "**/*.hpp", "**/*.c", "**/*.cpp", "**/*.f", "**/*.f90"),
        "sources and headers for compiling C/Cython extensions against the package; Lambda compiles nothing",
    ),
    Trim(("numpy/_core/include", "numpy/_core/lib"), "numpy's C headers and static npymath for extension builds"),
    Trim(
        (
            "numpy/_core/_simd.*",
            "numpy/_core/_multiarray_tests.*",
            "numpy/_core/_umath_tests.*",
            "numpy/_core/_rational_tests.*",
            "numpy/_core/_struct_ufunc_tests.*",
            "numpy/_core/_operand_flag_tests.*",
            "numpy/testing/print_coercion_tables.py",
            "**/conftest.py",
        ),
        "numpy's extension modules for its test suite, the script that prints its casting tables with one of them, "
        "and pytest's conftest.py files",
    ),
    Trim(("**/*.pyi", "**/py.typed", "**/*-stubs"), "type stubs and markers, read by type checkers only"),
    Trim(("**/__pycache__",), "caches from the install; the build compiles its own bytecode afterwards"),
    Trim(
        ("bin",), "console scripts pip wrote for the build machine's interpreter (f2py, jp.py, ...); Lambda runs none"
    ),
)


@dataclass(frozen=True)
class LayerSpec:
    folder: str  # the layer's ContentUri, relative to the repository
    requirement_files: tuple[str, ...] = ("requirements.txt",)
    copy: tuple[str, ...] = ()  # source folders copied into python/ (the mlops package)
    trims: tuple[Trim, ...] = ()
    omitted: dict[str, str] = field(default_factory=dict)  # declared dependency -> why the layer leaves it out
    import_check: tuple[str, ...] = ()  # imported by a clean interpreter that sees only this layer
    precompile: bool = False  # ship .pyc files (see the module's docstring for the measured trade-off)
    # remaining files allowed to name a removed module, and why that code never runs in Lambda
    accepted_references: dict[str, str] = field(default_factory=dict)
    # lib/<name> <- the installed file matching the pattern (see the module's docstring), and why
    system_libraries: dict[str, tuple[str, str]] = field(default_factory=dict)


LAYERS = {
    "CoreLayer": LayerSpec(
        "layers/core/python",
        ("requirements.txt", "dependencies.txt"),
        copy=("mlops",),
        trims=(
            Trim(
                (
                    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
                    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
                ),
                "the Swagger UI's JavaScript and CSS, which Powertools serves only from enable_swagger()",
                unless_used=r"enable_swagger",
            ),
        ),
        omitted={
            "botocore": "the Lambda runtime ships boto3 and botocore (the X-Ray SDK patches the runtime's botocore)",
            "python-dateutil": "botocore's dependency, in the Lambda runtime with it",
            "urllib3": "botocore's dependency, in the Lambda runtime with it",
            "six": "python-dateutil's dependency, in the Lambda runtime with it",
        },
        import_check=("aws_lambda_powertools", "aws_lambda_powertools.logging", "pydantic", "wrapt"),
        precompile=True,
    ),
    "MlLayer": LayerSpec(
        "layers/ml",
        ("requirements.txt", "dependencies.txt"),
        trims=(
            Trim(
                ("sklearn/datasets/data", "sklearn/datasets/images", "sklearn/datasets/descr"),
                "scikit-learn's bundled toy data sets (load_iris(), ...), read only by its sklearn.datasets loaders",
                unless_used=r"sklearn\.datasets|from sklearn import [^\n]*\bdatasets\b",
            ),
            Trim(
                ("scipy/special/_precompute",),
                "scripts SciPy's developers run to precompute tables (one imports scipy.special.tests); SciPy never "
                "imports them",
            ),
        ),
        import_check=(
            "sklearn.compose",
            "sklearn.ensemble",
            "sklearn.impute",
            "sklearn.linear_model",
            "sklearn.metrics",
            "sklearn.model_selection",
            "sklearn.neighbors",
            "sklearn.pipeline",
            "sklearn.preprocessing",
            "sklearn.tree",
            "scipy.sparse",
            "scipy.stats",
            "joblib",
            "threadpoolctl",
            "skops.io",
            "lightgbm",
        ),
        omitted={
            "prettytable": "skops's model-card renderer (skops.card) needs it; the steps use skops.io only",
        },
        system_libraries={
            "libgomp.so.1": (
                "scikit_learn.libs/libgomp-*.so.1.0.0",
                "lightgbm/lib/lib_lightgbm.so needs libgomp.so.1 (GNU OpenMP), which its wheel does not vendor and "
                "Lambda's python3.13 runtime does not ship",
            ),
        },
    ),
    "ConversionLayer": LayerSpec(
        "layers/conversion",
        ("requirements.txt", "dependencies.txt"),
        trims=(
            Trim(
                ("onnx/examples", "onnx/defs/gen_doc.py", "**/*.cc"),
                "ONNX's examples, its documentation generator script (it imports the removed onnx.backend.test) and "
                "C++ sources",
            ),
        ),
        omitted={
            "scikit-learn": "in the ML layer, which every function with this layer also has (one scikit-learn)",
            "numpy": "in the ML layer, which every function with this layer also has",
            "typing-extensions": "in the core layer, which every function has",
        },
        # onnx, ml_dtypes and skl2onnx import numpy or scikit-learn from the ML layer: the built-artifact smoke test
        # imports them with it
        import_check=("google.protobuf",),
    ),
    "ServingLayer": LayerSpec(
        "layers/serving",
        trims=(
            Trim(
                ("onnxruntime/capi/libonnxruntime.so*",),
                "onnxruntime's C API library for C/C++ programs; the Python binding (onnxruntime_pybind11_state) "
                "links the runtime statically and does not load it (checked: nothing left needs it)",
            ),
            Trim(
                (
                    "onnxruntime/tools",
                    "onnxruntime/transformers",
                    "onnxruntime/quantization",
                    "onnxruntime/datasets",
                    "onnxruntime/backend",
                ),
                "offline tooling (model conversion, optimisation, quantisation, the ONNX backend API, sample models); "
                "`import onnxruntime` and InferenceSession do not import them, and they need onnx/protobuf",
            ),
        ),
        omitted={
            "flatbuffers": "used by onnxruntime's offline tools (ORT-format conversion) only, not by inference",
            "packaging": "used by onnxruntime's offline tools only, not by `import onnxruntime` or inference",
            "protobuf": "used by onnxruntime's offline tools (through onnx) only, not by inference",
            "sympy": "used by onnxruntime's symbolic shape inference tool only",
            "coloredlogs": "used by onnxruntime's command-line tools only",
        },
        accepted_references={
            "onnxruntime/__init__.py": "print_debug_info() imports onnxruntime.transformers.machine_info only for CUDA "
            "builds with psutil, py-cpuinfo and py3nvml installed; this CPU build has none of them",
        },
        import_check=("onnxruntime", "numpy"),
    ),
}


# ---- the build ----------------------------------------------------------------------------------------------------


def fail(message: str) -> None:
    print(f"build_layer: error: {message}", file=sys.stderr)
    raise SystemExit(1)


def build_graph_architecture(logical_id: str, artifacts_dir: Path) -> str | None:
    """The architecture `sam build` resolved for this layer (`BuildArchitecture: !Ref Architecture` with the
    parameter overrides). SAM does not pass it to a makefile build, but writes it to its build graph
    (build.toml, beside the build folder) before building; the artifacts folder is under that build folder."""
    for folder in list(artifacts_dir.resolve().parents)[:3]:
        graph = folder / "build.toml"
        if graph.is_file():
            definitions = tomllib.loads(graph.read_text()).get("layer_build_definitions", {})
            for definition in definitions.values():
                if definition.get("layer") == logical_id or definition.get("layer_name") == logical_id:
                    return definition.get("architecture")
    return None


def target_architecture(logical_id: str, artifacts_dir: Path) -> str:
    """LAMBDA_ARCHITECTURE (set by `make build ARCH=...`), else SAM's build graph, else the template's default."""
    from_environment = os.environ.get("LAMBDA_ARCHITECTURE") or None
    from_sam = build_graph_architecture(logical_id, artifacts_dir)
    if from_environment and from_sam and from_environment != from_sam:
        fail(
            f"LAMBDA_ARCHITECTURE={from_environment} but sam build resolved Architecture={from_sam} for {logical_id}: "
            f"build with `make build ARCH={from_environment}` (it passes both), or unset LAMBDA_ARCHITECTURE"
        )
    architecture = from_environment or from_sam or "x86_64"
    if architecture not in ARCHITECTURES:
        fail(f"unknown architecture {architecture!r}: Lambda has {', '.join(ARCHITECTURES)}")
    return architecture


def pip_platform_options(architecture: str) -> list[str]:
    machine = ARCHITECTURES[architecture]
    options = ["--only-binary=:all:", "--python-version", RUNTIME_VERSION, "--implementation", "cp"]
    for minor in reversed(GLIBC_MINORS):
        options += ["--platform", f"manylinux_2_{minor}_{machine}"]
    return [*options, "--platform", f"manylinux2014_{machine}"]


def install(spec: LayerSpec, source: Path, target: Path, architecture: str) -> None:
    check_python()
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", str(target)]
    command += ["--disable-pip-version-check", "--no-input", "--quiet", *pip_platform_options(architecture)]
    for name in spec.requirement_files:
        command += ["--requirement", str(source / name)]
    print(f"  pip install --no-deps {' '.join(spec.requirement_files)} ({architecture} wheels)", flush=True)
    subprocess.run(command, check=True)


def check_python() -> None:
    version = "{}.{}".format(*sys.version_info[:2])
    if version != RUNTIME_VERSION:
        fail(
            f"{sys.executable} is Python {version}; layers must be built by Python {RUNTIME_VERSION}, the Lambda "
            f"runtime's (bytecode is version-specific). `make build` finds one with tools/find_python.sh; "
            f"or set PYTHON=/path/to/python{RUNTIME_VERSION}"
        )
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False).returncode:
        fail(f"{sys.executable} has no pip: set PYTHON to a Python {RUNTIME_VERSION} with pip (.venv-sam/bin/python)")


def matches(root: Path, trim: Trim) -> Iterator[Path]:
    kept = {path for pattern in trim.keep for path in root.glob(pattern)}
    for pattern in trim.patterns:
        for path in sorted(root.glob(pattern)):
            if path not in kept and not any(parent in kept for parent in path.parents) and path.exists():
                yield path


def size_of(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def module_name(root: Path, path: Path) -> str | None:
    """`scipy/special/tests` -> `scipy.special.tests`, `a/b.py` or `a/b.cpython-313-x86_64-linux-gnu.so` -> `a.b`;
    None for what no import statement can name (data, headers, `libonnxruntime.so.1.31.1`)."""
    parts = list(path.relative_to(root).parts)
    if path.is_file():
        if path.suffix not in (".py", ".so"):
            return None
        parts[-1] = path.name.split(".", 1)[0]
    return ".".join(parts) if all(part.isidentifier() for part in parts) else None


def used_by_repository(pattern: str) -> list[str]:
    """The repository's own source files (GUARDED_SOURCES) in which a pattern occurs."""
    expression = re.compile(pattern)
    return [
        str(path.relative_to(ROOT))
        for folder in GUARDED_SOURCES
        for path in sorted((ROOT / folder).rglob("*.py"))
        if expression.search(path.read_text(errors="replace"))
    ]


def trim(root: Path, trims: tuple[Trim, ...]) -> dict[Path, str | None]:
    """Remove every match; return what was removed (with its module name, or None) and print what each rule freed."""
    removed: dict[Path, str | None] = {}
    for rule in trims:
        if rule.unless_used and (users := used_by_repository(rule.unless_used)):
            fail(f"cannot trim {', '.join(rule.patterns)}: {', '.join(users)} use(s) it ({rule.unless_used})")
        freed, count = 0, 0
        for path in matches(root, rule):
            freed += size_of(path)
            count += 1
            removed[path] = module_name(root, path)
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        if count:
            print(f"  trimmed {count} path(s), {freed / 2**20:.1f} MiB: {rule.reason}")
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def imported_modules(path: Path, root: Path, tree: ast.AST) -> Iterator[str]:
    """The absolute names every import statement of a module names (relative imports resolved)."""
    package = list(path.relative_to(root).with_suffix("").parts)[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def references_to_removed(root: Path, names: set[str]) -> Iterator[str]:
    """Where remaining code names a removed module: import statements of .py files (only files with an import line
    that mentions a removed module's last name are parsed), and dotted names inside extension modules (Cython
    modules import by absolute name)."""

    def removed_prefix(module: str) -> str | None:
        parts = module.split(".")
        return next((".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in names), None)

    leaves = sorted({name.rsplit(".", 1)[-1].encode() for name in names}, key=len, reverse=True)
    mentions = re.compile(
        rb"^[ \t]*(?:from|import)[ \t][^\n]*\b(?:" + b"|".join(map(re.escape, leaves)) + rb")\b", re.M
    )
    # in binary files only dotted names are searched: a bare top-level name such as `bin` is in countless strings
    qualified = sorted((name for name in names if "." in name), key=len, reverse=True)
    dotted = re.compile(b"|".join(re.escape(name.encode()) for name in qualified)) if qualified else None
    for path in (p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".py" and mentions.search(source := path.read_bytes()):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue  # not importable by this Python at all
            for module in imported_modules(path, root, tree):
                if prefix := removed_prefix(module):
                    yield f"{path.relative_to(root)} imports {module} (removed: {prefix})"
        elif dotted is not None and path.suffix != ".py" and elf.is_elf(path):
            for match in set(dotted.findall(path.read_bytes())):
                yield f"{path.relative_to(root)} names {match.decode()} (removed)"


def check_no_import_of_removed(root: Path, removed: dict[Path, str | None], accepted: dict[str, str]) -> None:
    names = {name for name in removed.values() if name}
    found = sorted(set(references_to_removed(root, names))) if names else []
    for referrer, reason in accepted.items():
        if any(line.startswith(f"{referrer} ") for line in found):
            print(f"  accepted: {referrer} names a removed module: {reason}")
    found = [line for line in found if line.split(" ", 1)[0] not in accepted]
    if found:
        fail("a trim removed modules that remaining code imports:\n  " + "\n  ".join(found))
    print(f"  no remaining module imports any of the {len(names)} removed module(s)")


def check_links(root: Path, removed: dict[Path, str | None], architecture: str) -> None:
    """Every shared object is for the target machine, and none needs a library the trim removed."""
    removed_names = {path.name for path in removed}
    objects = elf.shared_objects(root)
    wrong = [f"{o.path.relative_to(root)} ({o.architecture})" for o in objects if o.architecture != architecture]
    if wrong:
        fail(f"shared objects not built for {architecture}: {', '.join(wrong[:5])}")
    broken = [f"{o.path.relative_to(root)} needs {name}" for o in objects for name in o.needed if name in removed_names]
    if broken:
        fail("a trimmed library is still linked: " + "; ".join(broken))
    print(f"  {len(objects)} shared objects, all {architecture}, none linking a trimmed file")


def host_can_run(architecture: str) -> bool:
    return sys.platform == "linux" and ARCHITECTURES[architecture] == platform.machine()


def copy_system_libraries(spec: LayerSpec, target: Path, libraries: Path) -> None:
    for name, (pattern, reason) in spec.system_libraries.items():
        found = sorted(target.glob(pattern))
        if len(found) != 1:
            fail(f"{name}: expected one installed file matching {pattern}, found {len(found)}")
        libraries.mkdir(exist_ok=True)
        shutil.copy2(found[0], libraries / name)
        print(f"  lib/{name} <- {found[0].relative_to(target)}: {reason}")


def check_imports(root: Path, modules: tuple[str, ...], architecture: str) -> None:
    if not modules:
        return
    if not host_can_run(architecture):
        print(f"  import check skipped: this {platform.machine()} machine cannot load {architecture} extensions")
        return
    code = (
        "import importlib, sys\nsys.path[:0] = sys.argv[1:2]\nfor name in sys.argv[2:]: importlib.import_module(name)"
    )
    started = time.perf_counter()
    libraries = root.parent / "lib"  # the layer's /opt/lib, searched first as on Lambda
    environment = {**os.environ, "LD_LIBRARY_PATH": str(libraries)} if libraries.is_dir() else None
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(root), *modules],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    if result.returncode:
        fail(f"the trimmed layer does not import in a clean interpreter:\n{result.stderr}")
    print(f"  imports {', '.join(modules)} in a clean interpreter ({time.perf_counter() - started:.1f} s)")


def compile_bytecode(root: Path) -> None:
    command = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(root)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:  # a module that does not compile for 3.13 would fail at import too: say which
        fail(f"compileall failed:\n{result.stdout}{result.stderr}")


def build(logical_id: str, artifacts_dir: Path) -> None:
    if logical_id not in LAYERS:
        fail(f"no layer {logical_id!r} (known: {', '.join(LAYERS)})")
    spec = LAYERS[logical_id]
    source = ROOT / spec.folder
    architecture = target_architecture(logical_id, artifacts_dir)
    started = time.perf_counter()
    print(f"build_layer: {logical_id} from {spec.folder} for python{RUNTIME_VERSION} {architecture}", flush=True)
    target = artifacts_dir / "python"
    for folder in (target, artifacts_dir / "lib"):
        if folder.exists():
            shutil.rmtree(folder)
    target.mkdir(parents=True)
    install(spec, source, target, architecture)
    for folder in spec.copy:
        shutil.copytree(source / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    removed = trim(target, (*COMMON_TRIMS, *spec.trims))
    check_no_import_of_removed(target, removed, spec.accepted_references)
    check_links(target, removed, architecture)
    copy_system_libraries(spec, target, artifacts_dir / "lib")
    check_imports(target, spec.import_check, architecture)
    if spec.precompile:
        compile_bytecode(target)
    print(f"build_layer: {logical_id}: {size_of(target) / 2**20:.1f} MiB in {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_layer", description=__doc__.split("\n\n")[0])
    parser.add_argument("logical_id", help="the layer's logical id in template.yaml (the Makefile target's suffix)")
    parser.add_argument("artifacts_dir", type=Path, help="where sam build wants the layer (ARTIFACTS_DIR)")
    arguments = parser.parse_args(argv)
    build(arguments.logical_id, arguments.artifacts_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
