from __future__ import annotations

import json
from pathlib import Path

from offerflow_staging.adapters.seed import read_seed, write_seed


def test_seed_iso_is_a_cidata_volume_with_the_user_and_key(tmp_path: Path) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTest offerflow-staging"
    path = write_seed(tmp_path / "seed.iso", user="offerflow", public_key=key + "\n", instance_id="staging-1")
    found = read_seed(path)
    assert found["label"] == "cidata"
    assert found["meta-data"] == 'instance-id: "staging-1"\nlocal-hostname: "staging"\n'
    assert found["user-data"].startswith("#cloud-config\n")
    config = json.loads(found["user-data"].split("\n", 1)[1])
    assert config["users"][0]["name"] == "offerflow"
    assert config["users"][0]["ssh_authorized_keys"] == [key]
    assert path.read_bytes()[0x8001:0x8006] == b"CD001"  # an ISO 9660 volume descriptor
    assert not list(tmp_path.glob("*.tmp"))
