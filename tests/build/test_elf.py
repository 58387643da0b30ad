"""tools/elf.py reads what the build checks need from real shared objects."""

from __future__ import annotations

import platform
import struct
import sys
from pathlib import Path

import pytest

from tools import elf

pytestmark = pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() in ("x86_64", "aarch64")), reason="needs a Linux ELF build"
)


def numpy_extension() -> Path:
    import numpy

    return next((Path(numpy.__file__).parent / "_core").glob("_multiarray_umath.*.so"))


def test_the_machine_and_needed_libraries_of_an_extension_module() -> None:
    shared = elf.read(numpy_extension())

    assert shared.architecture == {"x86_64": "x86_64", "aarch64": "arm64"}[platform.machine()]
    assert "libc.so.6" in shared.needed
    assert any("openblas" in name for name in shared.needed), shared.needed


def test_another_machine_is_reported_by_its_number(tmp_path: Path) -> None:
    data = bytearray(numpy_extension().read_bytes())
    struct.pack_into("<H", data, 18, 243)  # EM_RISCV
    (tmp_path / "riscv.so").write_bytes(bytes(data))

    assert elf.read(tmp_path / "riscv.so").architecture == "e_machine=243"


def test_files_that_are_not_elf_are_skipped_or_refused(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text("x = 1\n")
    (tmp_path / "fake.so").write_bytes(b"\x7fELF\x01\x01")  # 32-bit

    assert not elf.is_elf(tmp_path / "module.py")
    with pytest.raises(ValueError, match="64-bit"):
        elf.read(tmp_path / "fake.so")
