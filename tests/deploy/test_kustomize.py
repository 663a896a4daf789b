"""The kustomization built the way `kubectl apply -k` builds it (kubectl's bundled kustomize, offline): it builds,
puts every object in the namespace, and resolves every image to the release the kustomization pins."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from .manifests import K8S_DIR, k8s_documents

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="needs kubectl (its bundled kustomize) on PATH")


def built() -> list[dict[str, Any]]:
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_the_kustomization_builds_every_manifest_into_the_namespace() -> None:
    docs = built()
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = {(d["kind"], d["metadata"]["name"]) for p, d in k8s_documents() if p.name in kustomization["resources"]}
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == listed
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == kustomization["namespace"], d["metadata"]["name"]
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "offerflow"


def test_every_built_image_is_the_pinned_release() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    pinned: dict[str, set[str]] = {}  # image -> the references kustomize may write for it
    for image in kustomization["images"]:
        name = image.get("newName", image["name"])
        digest = image.get("digest")
        # With a digest, kustomize writes it after the tag, or instead of it (releases differ).
        pinned[image["name"]] = ({f"{name}:{image['newTag']}@{digest}", f"{name}@{digest}"} if digest
                                 else {f"{name}:{image['newTag']}"})
    used: set[str] = set()
    for d in built():
        pod = d.get("spec", {}).get("template", {}).get("spec", {})
        used |= {c["image"] for c in pod.get("initContainers", []) + pod.get("containers", [])}
    for image, refs in pinned.items():
        assert len(used & refs) == 1, f"{image}: built as {sorted(used)}"
    assert used <= set().union(*pinned.values()), sorted(used)
