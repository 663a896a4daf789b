"""Real Windows PE images for test disks: a tiny native image with a VERSIONINFO resource, built by mingw-w64.

The certifier reads two things from a Windows binary: the COFF machine (is the kernel 64-bit?) and the
VS_FIXEDFILEINFO file version (is srv.sys patched?). Both must come from a real toolchain, not from bytes this
project writes, so the inspector and its fixtures cannot share a misreading of the format.

64-bit images are built with x86_64-w64-mingw32. A 32-bit (PE32, i386) image is built with i686-w64-mingw32 when
installed; otherwise the x86-64 toolchain does it: gcc -m32 compiles, windres --target=pe-i386 makes the resource,
and ld's i386pe emulation links with the short linker script below, because that emulation's default script is
not shipped with the x86-64 binutils.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError

_SOURCE: Final = """\
/* Stand-in for a Windows kernel-mode image: only its headers and resources are ever read. */
long __stdcall Entry(void *object, void *path) { return 0; /* STATUS_SUCCESS */ }
"""
_PE32_SCRIPT: Final = """\
SECTIONS
{
  . = SIZEOF_HEADERS;
  . = ALIGN(__section_alignment__);
  .text __image_base__ + . : { *(.text*) }
  .data ALIGN(__section_alignment__) : { *(.data*) *(.rdata*) *(.bss*) }
  .rsrc ALIGN(__section_alignment__) : { *(.rsrc*) }
  /DISCARD/ : { *(.drectve) *(.debug*) *(.xdata*) *(.pdata*) }
}
"""
VFT_DRV: Final = 3
VFT2_DRV_SYSTEM: Final = 7
VFT2_DRV_NETWORK: Final = 6


@dataclass(frozen=True)
class PeSpec:
    """One binary: its file name, version (four numbers) and word size."""

    name: str
    version: str
    description: str
    bits: int = 64
    subtype: int = VFT2_DRV_SYSTEM


def _tool(name: str) -> str | None:
    return shutil.which(name)


def _need(name: str) -> str:
    found = _tool(name)
    if found is None:
        raise BuilderError(f"{name} not found: install gcc-mingw-w64-x86-64 and binutils-mingw-w64-x86-64")
    return found


def _run(argv: list[str], cwd: Path) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuilderError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()}")


def version_rc(spec: PeSpec) -> str:
    """The resource script: the fixed version the certifier reads, and the strings Explorer would show."""
    parts = spec.version.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 65536 for p in parts):
        raise BuilderError(f"a file version is four numbers below 65536, got {spec.version!r}")
    numbers = ",".join(parts)
    strings = {"CompanyName": "Offerflow test images", "FileDescription": spec.description,
               "FileVersion": spec.version, "InternalName": spec.name, "OriginalFilename": spec.name,
               "ProductName": "Offerflow Windows test image", "ProductVersion": spec.version}
    values = "\n".join(f'      VALUE "{k}", "{v}\\0"' for k, v in strings.items())
    return f"""\
1 VERSIONINFO
FILEVERSION {numbers}
PRODUCTVERSION {numbers}
FILEFLAGSMASK 0x3F
FILEFLAGS 0
FILEOS 0x40004
FILETYPE {VFT_DRV}
FILESUBTYPE {spec.subtype}
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
{values}
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"""


def build_pe(spec: PeSpec, work: Path) -> bytes:
    """Compile and link `spec` in `work` (a scratch directory); returns the image's bytes."""
    work.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(spec.name).stem}-{spec.bits}-{spec.version}"
    (work / f"{stem}.c").write_text(_SOURCE)
    (work / f"{stem}.rc").write_text(version_rc(spec))
    image = f"{stem}{Path(spec.name).suffix}"  # with its own suffix: mingw's gcc adds .exe to a bare name
    native = ["-Wl,--subsystem,native", "-nostdlib", "-ffreestanding", "-O2"]
    if spec.bits == 64:
        _run([_need("x86_64-w64-mingw32-windres"), f"{stem}.rc", "-O", "coff", "-o", f"{stem}.res"], work)
        _run([_need("x86_64-w64-mingw32-gcc"), *native, "-Wl,-e,Entry", "-o", image, f"{stem}.c", f"{stem}.res"],
             work)
    elif spec.bits == 32 and _tool("i686-w64-mingw32-gcc") and _tool("i686-w64-mingw32-windres"):
        _run([_need("i686-w64-mingw32-windres"), f"{stem}.rc", "-O", "coff", "-o", f"{stem}.res"], work)
        _run([_need("i686-w64-mingw32-gcc"), *native, "-Wl,-e,_Entry@8", "-o", image, f"{stem}.c", f"{stem}.res"],
             work)
    elif spec.bits == 32:
        (work / "pe32.ld").write_text(_PE32_SCRIPT)
        _run([_need("x86_64-w64-mingw32-windres"), "--target=pe-i386", f"{stem}.rc", "-O", "coff", "-o",
              f"{stem}.res"], work)
        _run([_need("x86_64-w64-mingw32-gcc"), "-m32", "-ffreestanding", "-O2", "-c", f"{stem}.c", "-o",
              f"{stem}.o"], work)
        _run([_need("x86_64-w64-mingw32-ld"), "-m", "i386pe", "-T", "pe32.ld", "--subsystem", "native",
              "-e", "_Entry@8", "-o", image, f"{stem}.o", f"{stem}.res"], work)
    else:
        raise BuilderError(f"a PE image is 32- or 64-bit, not {spec.bits}")
    return (work / image).read_bytes()
