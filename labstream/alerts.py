"""Reading the alerts topic: one readable line per alert, and ``labstream alerts``."""

from __future__ import annotations

import sys
import uuid

from schemas import Alert
from stream_processors.alerting import duration_text

_COLOURS = {"high": "\033[1;31m", "medium": "\033[33m", "low": "\033[36m"}
_RESET = "\033[0m"


def format_alert(alert: Alert, *, colour: bool = False) -> str:
    """One line per lifecycle record: time, status, severity, type, subject, duration so far, details.

    ``13:05:11 FIRING   HIGH   network_anomaly    lab-r3  0s  score 0.71  latency_ms 180 (normal 21, +9.5σ)``
    A resolved record shows when the incident ended and how long it lasted.
    """
    sev = alert.severity.upper().ljust(6)
    if colour:
        sev = f"{_COLOURS.get(alert.severity, '')}{sev}{_RESET}"
    at = alert.ended_at if alert.status == "resolved" and alert.ended_at else alert.last_seen_at
    head = f"{at:%H:%M:%S} {alert.status.upper():<8} {sev} {alert.alert_type:<18} {alert.subject}"
    parts = [head, duration_text(alert.duration_s)]
    if alert.status == "resolved":
        parts.append(f"({alert.resolution or 'resolved'})")
    if alert.score is not None:
        parts.append(f"score {alert.score:.2f}")
    if alert.count > 1:
        parts.append(f"x{alert.count}")
    for r in alert.reasons[:3]:
        if alert.alert_type == "model_drift":
            parts.append(f"{r.feature} PSI {r.value:.2f}")
        else:
            parts.append(f"{r.feature} {r.value:.3g} (normal {r.expected:.3g}, {r.deviation:+.1f}σ)")
    if alert.model_version:
        parts.append(f"model {alert.model_version}")
    line = "  ".join(parts)
    if alert.recommendations and alert.status != "resolved":
        line += f"\n{'':>9}→ {alert.recommendations[0]}"
    return line


async def tail_alerts(settings: object, *, from_beginning: bool = False, raw: bool = False) -> None:
    """Print alerts as they arrive until cancelled."""
    from aiokafka import AIOKafkaConsumer

    from foundation.settings import Settings

    assert isinstance(settings, Settings)
    consumer = AIOKafkaConsumer(
        settings.topics.alerts,
        bootstrap_servers=settings.bootstrap_list,
        group_id=f"labstream-alerts-tail-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    colour = sys.stdout.isatty()
    try:
        async for msg in consumer:
            if raw:
                sys.stdout.write(msg.value.decode("utf-8", "replace") + "\n")
            else:
                sys.stdout.write(format_alert(Alert.model_validate_json(msg.value), colour=colour) + "\n")
            sys.stdout.flush()
    finally:
        await consumer.stop()
