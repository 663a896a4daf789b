"""The NoCloud seed: an ISO 9660 volume labelled `cidata` with `meta-data` and `user-data`.

cloud-init (and most provisioning agents' NoCloud support) reads it from the VM's CD-ROM, creates the user and
installs the public key; nothing reaches a metadata service, since the VM has no network out.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pycdlib


def user_data(user: str, public_key: str) -> str:
    # JSON is YAML: the key and the user name are quoted whatever they contain.
    config = {
        "users": [{"name": user, "ssh_authorized_keys": [public_key.strip()], "shell": "/bin/sh",
                   "sudo": "ALL=(ALL) NOPASSWD:ALL", "lock_passwd": True}],
        "ssh_pwauth": False,
    }
    return "#cloud-config\n" + json.dumps(config, indent=2) + "\n"


def meta_data(instance_id: str, hostname: str) -> str:
    return f"instance-id: {json.dumps(instance_id)}\nlocal-hostname: {json.dumps(hostname)}\n"


def write_seed(path: Path, *, user: str, public_key: str, instance_id: str, hostname: str = "staging") -> Path:
    """Writes the seed ISO at `path` (Joliet and Rock Ridge names, so every reader sees `meta-data`)."""
    files = {"meta-data": meta_data(instance_id, hostname), "user-data": user_data(user, public_key)}
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    try:
        for name, text in files.items():
            data = text.encode()
            short = name.upper().replace("-", "_")
            iso.add_fp(io.BytesIO(data), len(data), f"/{short}.;1", rr_name=name, joliet_path=f"/{name}")
        tmp = path.with_suffix(".tmp")
        iso.write(str(tmp))
    finally:
        iso.close()
    tmp.replace(path)
    return path


def read_seed(path: Path) -> dict[str, str]:
    """The seed's files by their Rock Ridge names (to check what a VM will read)."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        found: dict[str, str] = {}
        for name in ("meta-data", "user-data"):
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, rr_path=f"/{name}")
            found[name] = out.getvalue().decode()
        label = iso.pvd.volume_identifier.decode().strip()
        found["label"] = label
        return found
    finally:
        iso.close()
