"""Code pipeline: syntax-check submissions in a sandbox pool and spot struggling students.

A submission counts as a failure for ``struggling_student`` by the grader's verdict when the LMS
sent one (``result.passed``: code that compiles but fails the grader is a failure, code the grader
passed is a success whatever the checker says), and by the syntax check otherwise: a syntax error or
a checker bound hit. ``python2`` without a grader verdict is neither (it is not checked here).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

from schemas import CodeCheck, CodeSubmission, GraderResult, SyntaxErrorInfo
from stream_processors.alerting import AlertContext
from stream_processors.code import CodeCheckPool, StrugglingTracker
from stream_processors.insights import error_of, fact
from stream_processors.metrics import WorkerMetrics
from stream_processors.records import BatchResult, Output, Record, TimeBounds, parse

_ALERT_NS = uuid.UUID("6f1c1f7e-9d55-4a53-9b8e-3d1f0c2a7b10")
_SLICE_S = 0.01  # longest the event loop is held parsing submissions before other agents get a turn


class CodePipeline:
    """Turns ``student-events`` records into ``code-checks`` records and ``struggling_student`` alerts.

    ``students`` maps an anonymous_id to its struggling-tracker state (in the
    worker, a :class:`~stream_processors.staging.StagedTable` over a Faust table:
    one changelog record per student per batch). The alert id is derived from the failing
    submissions' event ids, so a replay after a crash yields the same id.
    """

    def __init__(
        self,
        code_checks_topic: str,
        alerts_topic: str,
        pool: CodeCheckPool,
        tracker: StrugglingTracker,
        students: MutableMapping[str, Any],
        metrics: WorkerMetrics,
        context: AlertContext | None = None,
        bounds: TimeBounds | None = None,
        clock: Callable[[], float] = time.time,
        facts_topic: str | None = None,
    ) -> None:
        self.code_checks_topic = code_checks_topic
        self.alerts_topic = alerts_topic
        self.pool = pool
        self.tracker = tracker
        self.students = students
        self.metrics = metrics
        self.context = context or AlertContext()
        self.bounds = bounds
        self.clock = clock
        self.facts_topic = facts_topic  # exercise facts for the insights agent, keyed by exercise

    async def process(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        events: list[tuple[Record, CodeSubmission]] = []
        slice_start = time.perf_counter()
        for record in records:
            event = parse(record, CodeSubmission, result, self.bounds)
            if event is not None:
                events.append((record, event))
            if time.perf_counter() - slice_start > _SLICE_S:  # 200 large submissions: ~0.15 s of parsing
                await asyncio.sleep(0)  # let the other agents (alerts) run meanwhile
                slice_start = time.perf_counter()
        if not events:
            return result
        verdicts = await self.pool.check_many([(e.language, e.code) for _, e in events])
        for (record, event), v in zip(events, verdicts, strict=True):
            check = CodeCheck(
                event_id=event.event_id,
                anonymous_id=event.anonymous_id,
                exercise_id=event.exercise_id,
                language=event.language,
                has_syntax_error=v.has_syntax_error,
                error=SyntaxErrorInfo(**v.error) if v.error else None,
                imports_used=list(v.imports_used),
                code_length=v.code_length,
                result=_verdict_only(event.result),
            )
            outcome = "limit" if v.limit else ("syntax_error" if v.has_syntax_error else "ok")
            self.metrics.code_checks.labels(language=event.language, outcome=outcome).inc()
            result.outputs.append(
                Output(self.code_checks_topic, event.anonymous_id, check.to_bytes(), record)
            )
            failed = failed_submission(event, v.has_syntax_error, v.limit)
            aid = event.anonymous_id
            # staged: one changelog record per student per batch
            self.students[aid], alert = self.tracker.update(
                self.students.get(aid),
                event.exercise_id,
                failed,
                str(event.event_id),
                event.occurred_at.timestamp(),
                now=self.clock(),
            )
            if alert is not None:
                result.outputs.append(self._alert(event, alert))
            if self.facts_topic is not None:
                result.outputs.append(self._fact(event, v.has_syntax_error, v.error, v.imports_used, v.limit))
        return result

    def _fact(
        self,
        event: CodeSubmission,
        syntax: bool,
        error: dict[str, Any] | None,
        imports: list[str],
        limit: str | None,
    ) -> Output:
        message = error.get("message") if error else None
        feedback = event.result.feedback if event.result is not None else None
        value = fact(
            event_id=str(event.event_id),
            exercise_id=event.exercise_id,
            occurred_at=event.occurred_at.timestamp(),
            anonymous_id=event.anonymous_id,
            has_syntax_error=syntax,
            unchecked=limit is not None,
            passed=event.result.passed if event.result is not None else None,
            error=error_of(syntax, message, feedback),
            imports=imports,
        )
        assert self.facts_topic is not None  # noqa: S101 - checked by the caller
        return Output(self.facts_topic, event.exercise_id, json.dumps(value).encode("utf-8"))

    def _alert(self, event: CodeSubmission, info: dict[str, Any]) -> Output:
        """A ``firing`` record when the run of failures reaches the threshold, ``resolved`` at the success."""
        review = (
            "Review the grader's feedback on the linked submissions"
            if event.result is not None
            else "Review the syntax errors in the linked code checks"
        )
        ids = [str(i) for i in info["event_ids"]]
        failures = int(info["failures"])
        resolved = bool(info.get("resolved"))
        now = event.occurred_at.timestamp()
        started = float(info.get("at") or now) if resolved else now
        severity = "medium" if failures < 2 * self.tracker.threshold else "high"
        state = {
            "alert_id": str(uuid.uuid5(_ALERT_NS, "struggling:" + ",".join(ids))),
            "severity": "medium" if resolved else severity,
            "started_at": started,
            "last_seen_at": started if resolved else now,
            "ended_at": now,
            "score": float(failures),
            "count": failures,
            "event_ids": ids,
        }
        exercise = event.exercise_id
        alert = self.context.record(
            "struggling_student",
            event.anonymous_id,
            "resolved" if resolved else "firing",
            state,
            summary=(
                f"a student succeeded on exercise {exercise} after {failures} failed submissions"
                if resolved
                else f"a student failed exercise {exercise} {failures} times in a row"
            ),
            reason="recovered" if resolved else None,
            recommendations=[]
            if resolved
            else [
                f"{failures} failed submissions in a row on exercise {exercise}",
                "Offer a hint or a tutor session on this exercise",
                review,
            ],
            extra_labels={"exercise_id": exercise},
        )
        if resolved:
            self.metrics.incident_seconds.labels(alert_type="struggling_student").observe(now - started)
        else:
            self.metrics.alerts.labels(alert_type="struggling_student", severity=alert.severity).inc()
        return Output(self.alerts_topic, event.anonymous_id, alert.to_bytes())


def failed_submission(event: CodeSubmission, has_syntax_error: bool, limit: str | None) -> bool:
    """Whether a submission counts as a failure: the grader's verdict first, then the syntax check.

    >>> from schemas import CodeSubmission
    >>> e = CodeSubmission(anonymous_id="k1-00000000", exercise_id="x", code="print(1)",
    ...                    result={"passed": False, "score": 0.2})
    >>> failed_submission(e, has_syntax_error=False, limit=None)
    True
    """
    if event.result is not None:
        return not event.result.passed
    if limit == "language":  # python2 or a language not checked here: no verdict, no failure
        return False
    return has_syntax_error or limit is not None


def _verdict_only(result: GraderResult | None) -> GraderResult | None:
    """The grader's verdict without its feedback: code-checks carries no student text."""
    if result is None:
        return None
    return GraderResult(passed=result.passed, score=result.score)
