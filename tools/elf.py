"""Read what the build checks need from an ELF shared object, with the standard library only: its machine (is a
layer built for the function's architecture?) and its DT_NEEDED entries (does anything still link a library the
build removes?). Only 64-bit little-endian files, which is what Lambda runs (x86_64 and arm64).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
MACHINES = {62: "x86_64", 183: "arm64"}  # e_machine: EM_X86_64, EM_AARCH64
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


@dataclass(frozen=True)
class SharedObject:
    path: Path
    architecture: str  # "x86_64", "arm64", or "e_machine=<n>" for anything else
    needed: tuple[str, ...]


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == ELF_MAGIC
    except OSError:
        return False


def _segments(data: bytes) -> tuple[list[tuple[int, int, int]], tuple[int, int] | None]:
    """The loaded segments (vaddr, offset, size) and the dynamic section's (offset, size)."""
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    loads, dynamic = [], None
    for index in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + index * phentsize
        )
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    return loads, dynamic


def _needed(data: bytes, loads: list[tuple[int, int, int]], dynamic: tuple[int, int]) -> list[str]:
    needed_offsets, strtab_address = [], None
    offset, size = dynamic
    for position in range(offset, offset + size, 16):
        tag, value = struct.unpack_from("<qQ", data, position)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            needed_offsets.append(value)
        elif tag == DT_STRTAB:
            strtab_address = value
    if strtab_address is None:
        return []
    strtab = next(
        (
            address - vaddr + file_offset
            for vaddr, file_offset, length in loads
            for address in [strtab_address]
            if vaddr <= address < vaddr + length
        ),
        None,
    )
    if strtab is None:
        raise ValueError(f"the string table address {strtab_address:#x} is in no loaded segment")
    return [data[strtab + name : data.index(b"\0", strtab + name)].decode() for name in needed_offsets]


def read(path: Path) -> SharedObject:
    """The machine and DT_NEEDED names of a 64-bit little-endian ELF file; ValueError for anything else."""
    data = path.read_bytes()
    if data[:4] != ELF_MAGIC or data[4] != 2 or data[5] != 1:  # EI_CLASS 2 = 64-bit, EI_DATA 1 = little-endian
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 18)
    loads, dynamic = _segments(data)
    needed = _needed(data, loads, dynamic) if dynamic else []
    return SharedObject(path, MACHINES.get(machine, f"e_machine={machine}"), tuple(needed))


def shared_objects(root: Path) -> list[SharedObject]:
    """Every ELF file under root (extension modules, bundled libraries), sorted by path."""
    return [read(path) for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink() and is_elf(path)]
