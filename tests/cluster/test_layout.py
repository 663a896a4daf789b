"""The cluster's and the instances' layout, without starting anything: names, ports, environments."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster import KafkaCluster
from procs import base_service, instance_names
from stack import Ports, Stack
from stackrun import instance_env


def test_instance_names_and_their_service() -> None:
    assert instance_names("certification", 1) == ["certification"]
    assert instance_names("certification", 3) == ["certification", "certification-2", "certification-3"]
    assert base_service("certification-2") == "certification"
    assert base_service("status-api") == "status-api"
    assert base_service("projection") == "projection"


def test_a_second_instance_has_its_own_port_folder_and_staging_work_dir(tmp_path: Path) -> None:
    stack = Stack(run_dir=tmp_path, ports=Ports.free(), objectstores_file=tmp_path / "o.json",
                  pg_run_dir=tmp_path / "pg", instances=2, cluster=None)
    web = stack.ports.web
    names = [n for s in ("validation", "certification", "provisioning", "staging", "packaging", "notifier",
                         "projection") for n in stack.instance_names(s)]
    assert len(names) == 14 and len({web[n] for n in names}) == 14
    assert stack.instance_names("status-api") == ["status-api"]  # one API process, whatever `instances` says
    env1, cwd1 = instance_env(stack, "staging")
    env2, cwd2 = instance_env(stack, "staging-2")
    assert env2["OFFERFLOW_STAGING_WEB_PORT"] == str(web["staging-2"]) != env1["OFFERFLOW_STAGING_WEB_PORT"]
    assert env2["OFFERFLOW_STAGING_WORK_DIR"] != env1["OFFERFLOW_STAGING_WORK_DIR"]
    assert cwd1 != cwd2 and cwd2.is_dir()
    env, _ = instance_env(stack, "projection-2")
    assert env["OFFERFLOW_STATUS_API_PROJECTION_WEB_PORT"] == str(web["projection-2"])
    with pytest.raises(ValueError, match="instances"):
        Stack(run_dir=tmp_path, ports=Ports.free(), instances=0, cluster=None)


def test_cluster_description_round_trips_and_names_every_voter(tmp_path: Path) -> None:
    c = KafkaCluster.new(tmp_path / "c", base_port=19092)
    assert [(n.id, n.port, n.controller_port) for n in c.nodes] == [(1, 19092, 19093), (2, 19094, 19095),
                                                                     (3, 19096, 19097)]
    assert c.bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    env = c.node_env(2)
    assert env["OFFERFLOW_KAFKA_VOTERS"] == "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert (env["OFFERFLOW_KAFKA_NODE_ID"], env["OFFERFLOW_KAFKA_REPLICATION"], env["OFFERFLOW_KAFKA_MIN_ISR"]) == \
        ("2", "3", "2")
    assert env["OFFERFLOW_KAFKA_RUN_DIR"] == str(tmp_path / "c" / "kafka-2")
    c.write_file()
    loaded = KafkaCluster.load(c.file)
    assert (loaded.nodes, loaded.cluster_id, loaded.bootstrap) == (c.nodes, c.cluster_id, c.bootstrap)
    assert c.pid(1) is None and c.exited(1)  # nothing started
    with pytest.raises(KeyError):
        c.node(4)
