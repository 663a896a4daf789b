from __future__ import annotations

from pathlib import Path

import pytest

from tests.images.builder import build_linux_vhd


@pytest.fixture(scope="session")
def compliant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 MiB fixed VHD that passes every footer and MBR rule; tests copy it before changing bytes."""
    return build_linux_vhd(tmp_path_factory.mktemp("vhd") / "compliant.vhd")
