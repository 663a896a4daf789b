"""deploy/Dockerfile and the topic job, checked offline (no engine here); the job also on the dev broker."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import pytest

from offerflow_contract.topics import PARTITIONS, all_topic_names

from .workspace import DEPLOY, ROOT, workspace_members

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
sys.path.insert(0, str(DEPLOY / "compose"))
import create_topics  # noqa: E402


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comments dropped, as the builder reads it."""
    lines = [ln for ln in DOCKERFILE.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in joined.splitlines() if ln.strip()]


def test_dependencies_layer_copies_every_workspace_manifest() -> None:
    copied = {args.split()[0] for op, args in instructions() if op == "COPY" and "pyproject.toml" in args}
    wanted = {"pyproject.toml"} | {f"{member}/pyproject.toml" for member in workspace_members()}
    assert wanted == copied, f"not copied before the first uv sync: {sorted(wanted - copied)}"


def test_image_installs_the_lock_without_dev_tools_and_runs_unprivileged() -> None:
    ops = instructions()
    syncs = [args for op, args in ops if op == "RUN" and "uv sync" in args]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert (
        re.search(r"FROM \$\{PYTHON_IMAGE\}", DOCKERFILE)
        # Python 3.11 (the workspace's), pinned to a patch release and a Debian release; a digest only when real.
        and re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$", DOCKERFILE, re.M)
    )
    users = [args for op, args in ops if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert ops[-1][0] == "CMD"
    env = " ".join(args for op, args in ops if op == "ENV")
    assert "APP_DATADIR=/tmp/" in env, "Faust must not write its data dir under the read-only /app"


def test_only_a_build_argument_adds_a_dependency_group() -> None:
    """The services' image gets no group at all; an image of the project's own mail sink would pass
    SYNC_ARGS="--group devsink"."""
    ops = instructions()
    assert ("ARG", 'SYNC_ARGS=""') in ops
    syncs = [args for op, args in ops if op == "RUN" and "uv sync" in args]
    assert all("--group" not in s and "--extra" not in s and "${SYNC_ARGS}" in s for s in syncs)


def test_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".run", ".cache"} <= ignored


def test_topic_job_refuses_an_impossible_isr() -> None:
    with pytest.raises(SystemExit):
        create_topics.main(["--replication-factor", "1", "--min-insync-replicas", "2"])


@pytest.mark.integration
def test_topic_job_against_the_dev_broker() -> None:
    """The dev broker of `make test` (one broker, RF 1), whose topics exist: the describe/compare path."""
    if not os.environ.get("OFFERFLOW_KAFKA_PORT"):
        pytest.skip("needs the broker of `make test`")
    bootstrap = f"127.0.0.1:{os.environ['OFFERFLOW_KAFKA_PORT']}"
    code = asyncio.run(create_topics.create(bootstrap, replication_factor=1, min_insync=1, wait_seconds=60))
    assert code == 0
    # What each k8s service's init container runs, on a real broker: every topic is there now.
    assert asyncio.run(create_topics.check(bootstrap, wait_seconds=30)) == 0

    from aiokafka.admin import AIOKafkaAdminClient

    async def partitions() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
        finally:
            await admin.close()

    names = all_topic_names()
    assert asyncio.run(partitions()) == dict.fromkeys(names, PARTITIONS)
