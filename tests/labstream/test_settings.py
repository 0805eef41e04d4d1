from __future__ import annotations

import os
from pathlib import Path

import pytest

from foundation.settings import Settings, Topics


def test_env_prefix_and_topic_renames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTREAM_BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    monkeypatch.setenv("LABSTREAM_TOPIC_ALERTS", "ops-alerts")
    monkeypatch.setenv("LABSTREAM_API_TOKENS", f"{'tok-a' * 7},{'tok-b' * 7}")  # 35 characters each
    monkeypatch.setenv("LABSTREAM_PSEUDONYM_KEY", "very-secret")
    s = Settings()
    assert s.bootstrap_list == ["k1:9092", "k2:9093"]
    assert s.topics.alerts == "ops-alerts"
    assert s.topics.lab_events == "lab-events"
    assert [t.get_secret_value() for t in s.api_tokens] == ["tok-a" * 7, "tok-b" * 7]
    # secrets never show in a repr
    assert "very-secret" not in repr(s) and "tok-a" not in repr(s)


def test_unset_bootstrap_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABSTREAM_BOOTSTRAP_SERVERS", raising=False)
    assert Settings().bootstrap_list == []


def test_topic_prefix_covers_every_topic() -> None:
    t = Topics.with_prefix("x-")
    assert len(t.all()) == len(Topics.model_fields) == 9 and all(n.startswith("x-") for n in t.all())
    s = Settings().with_topics(t)
    assert s.topics == t


def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTREAM_PARTITIONS", "0")
    with pytest.raises(ValueError, match="partitions"):
        Settings()


def test_alert_labels_and_links_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from stream_processors.alerting import AlertContext

    monkeypatch.setenv("LABSTREAM_ALERT_LAB", "lab-b2")
    monkeypatch.setenv("LABSTREAM_ALERT_DEVICE_LABELS", '{"core-*": {"team": "core"}, "*": {"team": "edge"}}')
    monkeypatch.setenv("LABSTREAM_GRAFANA_BASE_URL", "https://grafana.example/")
    ctx = AlertContext.from_settings(Settings())
    assert ctx.labels("core-r1") == {"lab": "lab-b2", "environment": "development", "team": "core"}
    assert ctx.labels("sw-3")["team"] == "edge"
    assert ctx.links("network_anomaly", "core r1").dashboard == (
        "https://grafana.example/d/labstream-overview/labstream?var-device=core%20r1"
    )


def test_labstream_settings_is_a_compatibility_re_export_of_the_ground_floor() -> None:
    import foundation.settings
    import labstream.settings

    assert labstream.settings.Settings is foundation.settings.Settings
    assert labstream.settings.Topics is foundation.settings.Topics


def test_to_env_reads_back_as_the_same_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = Settings(
        bootstrap_servers="k1:9092,k2:9093",
        broker_kind="tansu",
        partitions=5,
        environment="production",
        pseudonym_key="p" * 40,
        previous_pseudonym_keys={"k0": "q" * 40},
        api_tokens=["a" * 32, "b" * 33],
        data_dir=tmp_path / "data",
        spool_dir=tmp_path / "spool",
        worker_web_port=0,
        batch_size=333,
        alert_device_labels={"core-*": {"team": "core"}},
        model_signing_key="m" * 32,
        replication_factor=3,
        embedded_broker="kafka",
        kafka_nodes=3,
        kafka_jars_dir=tmp_path / "jars",
    ).with_topics(Topics.with_prefix("t-"))
    for name in list(os.environ):
        if name.startswith("LABSTREAM_"):
            monkeypatch.delenv(name)
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings() == s
    assert Settings() != Settings(partitions=6)  # the comparison can fail
    assert Settings().topic_lab_insights == "t-lab-insights"  # the insights topics are carried too
