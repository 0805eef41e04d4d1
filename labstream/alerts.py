"""Reading the alerts topic: one readable line per alert, and ``labstream alerts``."""

from __future__ import annotations

import sys
import uuid

from schemas import Alert

_COLOURS = {"high": "\033[1;31m", "medium": "\033[33m", "low": "\033[36m"}
_RESET = "\033[0m"


def format_alert(alert: Alert, *, colour: bool = False) -> str:
    """``13:05:11 HIGH   network_anomaly   lab-r3  score 0.71  latency_ms 180.0 (normal 21.0, 9.5σ) → …``"""
    sev = alert.severity.upper().ljust(6)
    if colour:
        sev = f"{_COLOURS.get(alert.severity, '')}{sev}{_RESET}"
    head = f"{alert.detected_at:%H:%M:%S} {sev} {alert.alert_type:<18} {alert.subject}"
    parts = [head]
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
    if alert.recommendations:
        line += f"\n{'':>9}→ {alert.recommendations[0]}"
    return line


async def tail_alerts(settings: object, *, from_beginning: bool = False, raw: bool = False) -> None:
    """Print alerts as they arrive until cancelled."""
    from aiokafka import AIOKafkaConsumer

    from labstream.settings import Settings

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
