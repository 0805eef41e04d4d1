from __future__ import annotations

import pytest

from labstream.settings import Settings, Topics


def test_env_prefix_and_topic_renames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTREAM_BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    monkeypatch.setenv("LABSTREAM_TOPIC_ALERTS", "ops-alerts")
    monkeypatch.setenv("LABSTREAM_API_TOKENS", "tok-a,tok-b")
    monkeypatch.setenv("LABSTREAM_PSEUDONYM_KEY", "very-secret")
    s = Settings()
    assert s.bootstrap_list == ["k1:9092", "k2:9093"]
    assert s.topics.alerts == "ops-alerts"
    assert s.topics.lab_events == "lab-events"
    assert [t.get_secret_value() for t in s.api_tokens] == ["tok-a", "tok-b"]
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
