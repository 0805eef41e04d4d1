"""deploy/compose.yaml: valid against the Compose Specification schema, and wired as the pipeline needs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from foundation.settings import Settings, Topics
from tests.deploy.queries import COMPOSE_PATH, DEPLOY_DIR
from tests.deploy.tools import explain, run

SCHEMA_PATH = Path(__file__).parent / "data" / "compose-spec.json"
# Variables compose.yaml requires (`${VAR:?...}`): set for the offline checks.
# The schema declares draft 2019-09 by its old URI (`http://json-schema.org/draft/2019-09/schema#`),
# which jsonschema does not map: name the draft explicitly.
_VALIDATOR = jsonschema.Draft201909Validator
REQUIRED_ENV = {
    "LABSTREAM_PSEUDONYM_KEY": "test-key",
    "LABSTREAM_API_TOKENS": "test-token-" + "t" * 32,
    "LABSTREAM_MODEL_SIGNING_KEY": "test-signing-key-" + "s" * 32,
}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    _VALIDATOR.check_schema(schema)
    errors = sorted(_VALIDATOR(schema).iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_compose_file() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    broken = _compose()
    broken["services"]["worker"]["depends_on"]["kafka-init"]["condition"] = "service_finished"
    broken["services"]["api"]["restart_policy"] = "always"
    errors = list(_VALIDATOR(schema).iter_errors(broken))
    assert len(errors) >= 2


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` plugin nor docker-compose here; the schema test above still runs")
    env = {**os.environ, **REQUIRED_ENV}
    proc = run([*cli, "-f", str(COMPOSE_PATH), "config", "-q"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, explain(proc)


KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
BOOTSTRAP = ",".join(f"{n}:9092" for n in KAFKA_NODES)


def test_kafka_runs_in_kraft_mode_on_the_official_image() -> None:
    services = _compose()["services"]
    voters = []
    for node_id, name in enumerate(KAFKA_NODES, start=1):
        kafka = services[name]
        assert kafka["image"].startswith("apache/kafka:")
        env = kafka["environment"]
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert "ZOOKEEPER" not in " ".join(env)
        assert env["KAFKA_NODE_ID"] == node_id
        assert f"PLAINTEXT://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
        listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
        protocols = env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].replace(":PLAINTEXT", "")
        assert listeners == set(protocols.split(","))
        assert "healthcheck" in kafka
        assert any(v.endswith(":/var/lib/kafka/data") for v in kafka["volumes"]), "log dirs on a volume"
        voters.append(f"{node_id}@{name}:9093")
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == ",".join(
            f"{i}@{n}:9093" for i, n in enumerate(KAFKA_NODES, start=1)
        )
    assert len({services[n]["ports"][0] for n in KAFKA_NODES}) == 3, "one host port per broker"


def test_compose_kafka_is_the_test_clusters_version_and_settings(tmp_path: Path) -> None:
    """Same Kafka version and KRaft settings as the tests' three-node cluster (labstream.kafka_cluster)."""
    from labstream.kafka_cluster import KafkaCluster, kafka_version, replication_for

    services = _compose()["services"]
    cluster = KafkaCluster(tmp_path, nodes=len(KAFKA_NODES))  # not started: only its properties
    props = cluster.properties(1)
    rf, min_isr = replication_for(len(KAFKA_NODES))
    assert (rf, min_isr) == (3, 2)
    compared = set()
    for name in [*KAFKA_NODES, "kafka-init"]:
        assert services[name]["image"] == f"apache/kafka:${{KAFKA_VERSION:-{kafka_version()}}}"
    for name in KAFKA_NODES:
        for key, value in services[name]["environment"].items():
            prop = key.removeprefix("KAFKA_").lower().replace("_", ".")
            per_deployment = (
                "node.",
                "listener",
                "advertised",
                "controller.quorum",
                "num.partitions",
                "log.dirs",
            )
            if prop in props and not prop.startswith(per_deployment):
                assert str(value).lower() == props[prop].lower(), (
                    f"{name} {key}={value}, tests: {props[prop]}"
                )
                compared.add(prop)
    # the voters: one per node, each node broker and controller, as in the tests
    assert props["controller.quorum.voters"].count("@") == len(KAFKA_NODES)
    assert {
        "process.roles",
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "group.initial.rebalance.delay.ms",
        "unclean.leader.election.enable",
        "message.max.bytes",
    } <= compared
    assert props["default.replication.factor"] == str(rf) and props["min.insync.replicas"] == str(min_isr)
    init = services["kafka-init"]
    assert init["environment"]["LABSTREAM_REPLICATION_FACTOR"] == f"${{LABSTREAM_REPLICATION_FACTOR:-{rf}}}"
    script = "\n".join(init["command"])
    assert "rf - 1" in script and '--config "min.insync.replicas=$$min_isr"' in script


def test_topic_creator_makes_all_seven_topics_with_partitions_from_env() -> None:
    services = _compose()["services"]
    init = services["kafka-init"]
    assert init["image"] == services["kafka-1"]["image"]
    assert _depends(init) == dict.fromkeys(KAFKA_NODES, "service_healthy")
    assert init["restart"] == "no"
    script = "\n".join(init["command"])
    assert "kafka-topics.sh" in script and "--if-not-exists" in script
    assert '--partitions "$$LABSTREAM_PARTITIONS"' in script
    assert init["environment"]["LABSTREAM_PARTITIONS"] == "${LABSTREAM_PARTITIONS:-6}"
    # Every topic of the settings, under its settings variable, with the contract's default name.
    defaults = Topics()
    for field in Topics.model_fields:
        var = f"LABSTREAM_TOPIC_{field.upper()}"
        assert var in Settings.model_fields.keys() | {f"LABSTREAM_{k.upper()}" for k in Settings.model_fields}
        assert init["environment"][var] == f"${{{var}:-{getattr(defaults, field)}}}"
        assert f'"$${var}"' in script
    created = re.findall(r'"\$\$LABSTREAM_TOPIC_\w+"', script)
    assert len(created) == len(defaults.all()) == len(Topics.model_fields)


def test_workers_scale_and_share_the_kafka_and_topic_settings() -> None:
    services = _compose()["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker, "fixed names/ports break --scale"
    assert worker["command"] == ["worker"]
    env = worker["environment"]
    assert env["LABSTREAM_BOOTSTRAP_SERVERS"] == BOOTSTRAP
    assert env["LABSTREAM_WORKER_WEB_HOST"] == "0.0.0.0"
    assert _depends(worker) == {"kafka-init": "service_completed_successfully"}
    assert any(v.endswith(":" + env["LABSTREAM_MODEL_DIR"]) for v in worker["volumes"])
    for name, value in services["kafka-init"]["environment"].items():
        if name.startswith("LABSTREAM_TOPIC_"):
            assert env[name] == value and services["api"]["environment"][name] == value

    api = services["api"]
    assert api["command"] == ["api"]
    assert api["environment"]["LABSTREAM_BOOTSTRAP_SERVERS"] == BOOTSTRAP
    assert api["environment"]["LABSTREAM_API_HOST"] == "0.0.0.0"
    assert api["image"] == worker["image"] and api["build"] == worker["build"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY_DIR / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve().is_file()


def test_prometheus_and_grafana_use_official_images_and_existing_files() -> None:
    services = _compose()["services"]
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert _depends(services["grafana"]) == {"prometheus": "service_healthy"}
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY_DIR / source).exists(), f"{name}: missing bind-mount source {source}"
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in services["prometheus"]["volumes"]
    named = {
        v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith(".")
    }
    assert named == set(_compose()["volumes"])
