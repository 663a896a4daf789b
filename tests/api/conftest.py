from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

from tests.e2e.client import Api
from tests.images.builder import build_linux_vhd


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return build_linux_vhd(tmp_path / "os.vhd")
