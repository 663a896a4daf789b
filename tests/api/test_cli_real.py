"""The `offerflow` CLI against the real stack: publish --follow shows the steps advancing, exit codes per state."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from stack import BIN, Stack

from tests.e2e.client import offer_doc, unique
from tests.images.builder import build_linux_vhd, build_variant

pytestmark = pytest.mark.e2e


def offerflow(stack: Stack, token: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**stack.env(), "OFFERFLOW_API_URL": stack.api_url, "OFFERFLOW_TOKEN": token,
           "OFFERFLOW_PUBLISHER": "e2e", "OFFERFLOW_POLL_INTERVAL": "0.3"}
    env.pop("OFFERFLOW_ADMIN_TOKEN", None)
    return subprocess.run([str(BIN / "offerflow"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_publish_follow_then_golive_wait(stack: Stack, e2e_token: str, tmp_path: Path) -> None:
    offer = unique("cli")
    doc = tmp_path / "offer.json"
    doc.write_text(json.dumps(offer_doc(build_linux_vhd(tmp_path / "os.vhd"))))
    put = offerflow(stack, e2e_token, "offers", "put", offer, str(doc))
    assert put.returncode == 0, put.stderr
    out = offerflow(stack, e2e_token, "offers", "publish", offer, "--emails", "cli@e2e.example", "--follow",
                    "--timeout", "180")
    assert out.returncode == 10, out.stdout + out.stderr  # waiting for publisher sign-off
    text = out.stdout + out.stderr
    # Not a terminal: one plain line per change, so the steps are seen advancing in order.
    done = [f"{step} complete 100%" for step in
            ("displaydummycertify", "displaycertify", "displayprovision", "displaystaging", "displaypackage")]
    for line in done:
        assert line in text, text
    assert [text.index(line) for line in done] == sorted(text.index(line) for line in done)
    live = offerflow(stack, e2e_token, "offers", "golive", offer, "--wait", "--timeout", "120")
    assert live.returncode == 0, live.stdout + live.stderr
    status = offerflow(stack, e2e_token, "offers", "status", offer, "--json")
    assert json.loads(status.stdout)["status"] == "succeeded"


def test_a_failed_publish_exits_11_and_a_refused_one_14(stack: Stack, e2e_token: str, tmp_path: Path) -> None:
    offer = unique("cli-bad")
    doc = tmp_path / "offer.json"
    doc.write_text(json.dumps(offer_doc(build_variant(tmp_path / "dyn.vhd", "dynamic"))))
    assert offerflow(stack, e2e_token, "offers", "put", offer, str(doc)).returncode == 0
    failed = offerflow(stack, e2e_token, "offers", "publish", offer, "--emails", "cli@e2e.example", "--wait",
                       "--timeout", "180")
    assert failed.returncode == 11, failed.stdout + failed.stderr
    refused = offerflow(stack, e2e_token, "offers", "golive", offer)
    assert refused.returncode == 14
    assert "sign-off" in refused.stderr + refused.stdout
