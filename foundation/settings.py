"""All of LabStream's configuration, in one pydantic-settings class.

Built once at the entry point (CLI, tests) and passed down; no module reads the
environment on its own.

>>> s = Settings(bootstrap_servers="kafka1:9092,kafka2:9092")
>>> s.bootstrap_list
['kafka1:9092', 'kafka2:9092']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_CHARS = 32  # API tokens and the model signing key: shorter ones are refused at start-up

TopicName = Literal[
    "student_events",
    "lab_events",
    "network_metrics",
    "code_checks",
    "commands_categorized",
    "alerts",
    "dead_letters",
    "exercise_insights",
    "lab_insights",
]


class Topics(BaseModel):
    """Topic names; defaults are the public contract in DESIGN.md."""

    student_events: str = "student-events"
    lab_events: str = "lab-events"
    network_metrics: str = "network-metrics"
    code_checks: str = "code-checks"
    commands_categorized: str = "commands-categorized"
    alerts: str = "alerts"
    dead_letters: str = "dead-letters"
    exercise_insights: str = "exercise-insights"
    lab_insights: str = "lab-insights"

    def inputs(self) -> list[str]:
        return [self.student_events, self.lab_events, self.network_metrics]

    def outputs(self) -> list[str]:
        return [
            self.code_checks,
            self.commands_categorized,
            self.alerts,
            self.dead_letters,
            self.exercise_insights,
            self.lab_insights,
        ]

    def all(self) -> list[str]:
        return self.inputs() + self.outputs()

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        """Every topic renamed with a prefix: tests use it for unique names."""
        return cls(**{name: f"{prefix}{value}" for name, value in cls().model_dump().items()})


_DEFAULT_TOPICS = Topics()  # the names above are the only place topic defaults are written


class Settings(BaseSettings):
    """LabStream settings, read from ``LABSTREAM_*`` environment variables.

    ``LABSTREAM_TOPIC_<NAME>`` renames a topic (e.g. ``LABSTREAM_TOPIC_ALERTS``).
    """

    model_config = SettingsConfigDict(
        env_prefix="LABSTREAM_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a refused setting's error never prints its value (tokens, keys)
    )

    # --- Kafka -------------------------------------------------------------
    bootstrap_servers: str | None = Field(
        default=None, description="Comma-separated host:port; unset starts the embedded broker."
    )
    broker_port: int = Field(default=0, description="Embedded broker port; 0 picks a free one.")
    broker_kind: Literal["kafka", "tansu"] = Field(
        default="kafka",
        description=(
            "tansu: the embedded broker (LabStream sets this itself when it starts it). tansu reports "
            "end offsets per record batch, so Faust's table-recovery consistency check is off there."
        ),
    )
    partitions: int = Field(default=2, ge=1, description="Partitions per topic when LabStream creates them.")
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Replicas of every topic LabStream creates and of Faust's changelogs; unset: min(3, brokers "
            "in the cluster). min.insync.replicas is RF-1 when RF >= 2 (else 1)."
        ),
    )
    embedded_broker: Literal["tansu", "kafka"] = Field(
        default="tansu",
        description="What LabStream starts when no bootstrap servers are set: tansu (memory) or Apache Kafka",
    )
    kafka_nodes: int = Field(default=1, ge=1, le=9, description="Nodes of the Apache Kafka LabStream starts.")
    kafka_jars_dir: Path | None = Field(
        default=None,
        description="Cache of Apache Kafka's jars (fetched by Maven); unset: ~/.cache/labstream.",
    )
    topic_student_events: str = _DEFAULT_TOPICS.student_events
    topic_lab_events: str = _DEFAULT_TOPICS.lab_events
    topic_network_metrics: str = _DEFAULT_TOPICS.network_metrics
    topic_code_checks: str = _DEFAULT_TOPICS.code_checks
    topic_commands_categorized: str = _DEFAULT_TOPICS.commands_categorized
    topic_alerts: str = _DEFAULT_TOPICS.alerts
    topic_dead_letters: str = _DEFAULT_TOPICS.dead_letters
    topic_exercise_insights: str = _DEFAULT_TOPICS.exercise_insights
    topic_lab_insights: str = _DEFAULT_TOPICS.lab_insights

    # --- environment and privacy ------------------------------------------
    environment: Literal["development", "production"] = "development"
    pseudonym_key: SecretStr | None = Field(default=None, description="HMAC key for anonymous_id.")
    pseudonym_key_id: str = Field(default="k1", description="Id of the current pseudonym key.")
    pseudonym_key_file: Path | None = Field(default=None, description="File holding the key (dev).")
    previous_pseudonym_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Old keys still honoured during a rotation window, by key id."
    )
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Bearer tokens for the HTTP API."
    )
    data_dir: Path = Field(default=Path(".labstream"), description="Local state: dev key, spool.")
    spool_dir: Path | None = None
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)

    # --- worker ------------------------------------------------------------
    app_id: str = "labstream"
    worker_web_port: int = Field(default=6066, ge=0, le=65535)
    worker_web_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_host: str = "127.0.0.1"
    api_max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    api_rate_limit_per_minute: int = Field(default=600, ge=1)
    rebalance_timeout_s: float = Field(
        default=6.0, gt=0, description="Consumer-group rebalance timeout; tansu waits it out on first join."
    )
    session_timeout_s: float = Field(default=10.0, gt=0, description="Consumer-group session timeout.")
    fetch_max_wait_ms: int = Field(
        default=100, ge=1, le=10_000, description="Longest a fetch waits for data (tansu waits it out)."
    )
    batch_size: int = Field(
        default=5000, ge=1, description="Most metric events per scoring batch (one table write per device)"
    )
    max_clock_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="Events stamped further ahead of the worker clock are dead letters (0: off).",
    )
    event_horizon_s: float = Field(
        default=3650 * 86400.0,
        ge=0,
        description="Events stamped longer ago than this are dead letters (0: off).",
    )
    state_idle_s: float = Field(
        default=7 * 86400.0, gt=0, description="CLI sessions and failure streaks idle this long are deleted."
    )
    state_sweep_s: float = Field(default=60.0, gt=0, description="How often idle table keys are looked for.")
    delivery_retry_s: float = Field(
        default=300.0,
        gt=0,
        description="How long transient delivery failures are retried (back-off) before the worker stops.",
    )

    # --- code checks -------------------------------------------------------
    code_max_bytes: int = Field(default=256 * 1024, ge=1024)
    code_check_timeout_s: float = Field(default=2.0, gt=0)
    code_check_workers: int = Field(default=1, ge=1)
    struggling_threshold: int = Field(default=3, ge=2)

    # --- detector -----------------------------------------------------------
    model_dir: Path = Field(default=Path(".labstream/models"))
    target_false_alert_rate: float = Field(default=0.00025, gt=0, lt=0.5)
    alert_window_s: float = Field(default=300.0, gt=0, description="One alert per device per window.")
    drift_window: int = Field(default=2000, ge=100)
    drift_psi_threshold: float = Field(default=0.25, gt=0)
    model_poll_s: float = Field(default=2.0, gt=0)

    # --- security (issue 15) ------------------------------------------------
    api_auth_failures_per_minute: int = Field(
        default=10, ge=1, description="Failed authentications per client address per minute, then 429."
    )
    api_max_listed_errors: int = Field(
        default=50, ge=1, description="Most validation errors a 422 lists; the rest are counted."
    )
    model_signing_key: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key that signs promoted models (at least 32 characters)."
    )
    model_signing_key_file: Path | None = Field(
        default=None, description="File holding the model signing key (development creates one)."
    )

    # --- alerts (issue 16) ------------------------------------------------------
    alert_no_data_s: float = Field(
        default=900.0, gt=0, description="A device silent this long (event time) has its incident resolved."
    )
    device_state_ttl_s: float = Field(
        default=7 * 86400.0,
        gt=0,
        description="Baseline and incident state of a device idle this long is deleted.",
    )
    incident_sweep_s: float = Field(
        default=30.0, gt=0, description="How often silent devices are looked for."
    )
    alert_lab: str = Field(default="labstream", description="`lab` label of every alert.")
    alert_team: str = Field(default="netops", description="`team` label of every alert.")
    alert_device_labels: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='Labels by device-id pattern (fnmatch, first match wins): {"core-*": {"team": "core"}}.',
    )
    runbook_base_url: str = Field(
        default="https://runbooks.labstream.invalid", description="Runbook link: <base>/<alert_type>."
    )
    grafana_base_url: str = Field(default="http://localhost:3000", description="Dashboard links start here.")
    alertmanager_url: str = Field(
        default="http://127.0.0.1:9093", description="Where `labstream alertmanager` posts."
    )
    alertmanager_group: str = Field(
        default="labstream-alertmanager", description="The bridge's consumer group."
    )
    alertmanager_resend_s: float = Field(
        default=60.0, gt=0, description="Active alerts are re-sent this often (well inside resolve_timeout)."
    )

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, v: object) -> object:
        if isinstance(v, str):
            return [t.strip() for t in v.split(",") if t.strip()]
        return v

    @field_validator("api_tokens")
    @classmethod
    def _long_tokens(cls, v: list[SecretStr]) -> list[SecretStr]:
        short = [i + 1 for i, t in enumerate(v) if len(t.get_secret_value()) < MIN_SECRET_CHARS]
        if short:
            raise ValueError(
                f"API token(s) number {', '.join(map(str, short))} of {len(v)} are shorter than "
                f"{MIN_SECRET_CHARS} characters; make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return v

    @field_validator("model_signing_key")
    @classmethod
    def _long_signing_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"the model signing key is shorter than {MIN_SECRET_CHARS} characters")
        return v

    @property
    def bootstrap_list(self) -> list[str]:
        if not self.bootstrap_servers:
            return []
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    @property
    def topics(self) -> Topics:
        """The ``topic_*`` fields as :class:`Topics` (the inverse of :meth:`with_topics`)."""
        return Topics(**{name: getattr(self, f"topic_{name}") for name in Topics.model_fields})

    @property
    def internal_topics(self) -> list[str]:
        """The worker's own repartition topics (keyed by exercise, by device type), per app id."""
        return [f"{self.app_id}-exercise-facts", f"{self.app_id}-lab-facts"]

    def with_topics(self, topics: Topics) -> Settings:
        """A copy with other topic names (tests: a unique prefix per test)."""
        return self.model_copy(update={f"topic_{k}": v for k, v in topics.model_dump().items()})

    def to_env(self) -> dict[str, str]:
        """These settings as ``LABSTREAM_*`` environment variables (secrets in clear: for a child
        process only, never for a log), so that ``Settings()`` read from them equals ``self``.

        >>> Settings(partitions=3).to_env()["LABSTREAM_PARTITIONS"]
        '3'
        """
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            env[f"LABSTREAM_{name.upper()}"] = _env_value(value)
        return env

    @property
    def resolved_spool_dir(self) -> Path:
        return self.spool_dir or (self.data_dir / "spool")


def _reveal(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    return value


def _env_value(value: object) -> str:
    """One setting as pydantic-settings reads it back: lists comma-joined (``api_tokens`` is
    ``NoDecode``), dicts as JSON."""
    if isinstance(value, list):
        return ",".join(str(_reveal(v)) for v in value)
    if isinstance(value, dict):
        return json.dumps(_reveal(value))
    return str(_reveal(value))
