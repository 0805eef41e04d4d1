"""LabStream's metrics job written as a Quix Streams user would write it (the peer of ``bench.quix``).

    python -m bench._quix_app pipeline|noop N GROUP STATE_DIR INPUT_TOPIC ALERTS_TOPIC

Runs in its own virtualenv (``make bench`` creates ``.venv-quix`` with ``quixstreams`` from PyPI
and LabStream's own package), configured through the same ``LABSTREAM_*`` environment as the
worker it is compared with. One Quix ``Application``, one ``StreamingDataFrame``:

    network-metrics (JSON) -> apply(score, stateful=True, expand=True) -> to_topic(alerts)

``score`` is what LabStream's metrics pipeline does for one reading, with LabStream's library
(the Quix way is one message at a time): validate the reading (``schemas.NetworkMetrics``), score
it with the promoted model (``detector.ModelRegistry``, the same signed model the worker loads)
against the device's baseline held in Quix state (RocksDB with its changelog topic), step the
device's incident through ``detector.episodes.EpisodeRule`` (incident state in Quix state too) and
emit one alert record (``schemas.Alert``, via LabStream's ``AlertContext``) per transition.
``noop`` is the same application with no step: Quix's own consume-only baseline.

With ``N > 0`` the application stops after N processed messages (a graceful stop: the last
checkpoint, outputs and offsets, is committed before ``run`` returns) and prints one JSON line:
``{"processed", "rate", "seconds", "invalid", "alerts", "model"}``, the rate counted from the first
processed message to the return of ``run`` (so it includes the final commit and the close of the
consumer and the state store). With ``N == 0`` it runs until SIGTERM (latency measurements).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    mode, n, group, state_dir, input_topic, alerts_topic = argv
    target = int(n)

    import numpy as np
    from pydantic import ValidationError
    from quixstreams import Application, State

    from detector import ModelRegistry
    from detector.episodes import EpisodeRule, Transition
    from foundation.settings import Settings
    from schemas import NetworkMetrics
    from stream_processors.alerting import AlertContext

    settings = Settings()
    detector = ModelRegistry.from_settings(settings).load_current()
    rule = EpisodeRule(settings.alert_window_s, settings.alert_no_data_s)
    context = AlertContext.from_settings(settings)
    counts = {"processed": 0, "invalid": 0, "alerts": 0}
    clock: dict[str, float] = {}

    def alert(device: str, tr: Transition) -> dict[str, Any]:
        st = tr.state
        peak = st.get("peak") or {}
        if tr.status == "resolved":
            summary = f"{device}: network anomaly over ({tr.reason}), {st['count']} anomalous readings"
        else:
            summary = f"{device}: {st['severity']} network anomaly"
        record = context.record(
            "network_anomaly",
            device,
            tr.status,
            st,
            summary=summary,
            reason=tr.reason,
            device=device,
            model_version=detector.version,
            reasons=peak.get("reasons") or [],
            recommendations=peak.get("recommendations") or [],
        )
        counts["alerts"] += 1
        return record.model_dump(mode="json")

    def score(reading: dict[str, Any], state: State) -> list[dict[str, Any]]:
        try:
            event = NetworkMetrics.model_validate(reading)
        except ValidationError:
            counts["invalid"] += 1  # the worker dead-letters it; here it is counted and skipped
            return []
        device = event.device_id
        baselines = {device: state.get("baseline") or {}}
        _, anomalies = detector.score_anomalies(np.array([event.features()]), [device], baselines)
        state.set("baseline", baselines[device])
        incident = state.get("incident")
        verdict = anomalies.get(0)
        if verdict is None and incident is None:
            return []
        key, ts, eid = f"network_anomaly:{device}", event.occurred_at.timestamp(), str(event.event_id)
        if verdict is None:
            incident, transitions = rule.step(incident, key, ts, eid)
        else:
            incident, transitions = rule.step(
                incident,
                key,
                ts,
                eid,
                severity=verdict.severity or "low",
                score=float(verdict.score),
                peak={"reasons": verdict.reasons, "recommendations": verdict.recommendations},
            )
        if incident is None:
            state.delete("incident")
        else:
            state.set("incident", incident)
        return [alert(device, tr) for tr in transitions]

    def processed(topic: str, partition: int, offset: int) -> None:
        if not counts["processed"]:
            clock["first"] = time.perf_counter()
        counts["processed"] += 1
        if target and counts["processed"] >= target:
            clock["last"] = time.perf_counter()
            app.stop()

    app = Application(
        broker_address=settings.bootstrap_servers,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
        on_message_processed=processed,
    )
    readings = app.topic(input_topic, value_deserializer="json")
    sdf = app.dataframe(readings)
    if mode == "pipeline":
        sdf = sdf.apply(score, stateful=True, expand=True)
        sdf.to_topic(app.topic(alerts_topic, value_serializer="json"))
    elif mode != "noop":
        raise SystemExit(f"unknown mode {mode!r}: pipeline or noop")
    app.run()
    ended = time.perf_counter()
    if target:
        seconds = ended - clock.get("first", ended)
        print(
            json.dumps(
                {
                    **counts,
                    "rate": (counts["processed"] - 1) / seconds if seconds > 0 else 0.0,
                    "seconds": seconds,
                    "stop_seconds": ended - clock.get("last", ended),
                    "model": detector.version,
                    "state_dir": str(Path(state_dir)),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
