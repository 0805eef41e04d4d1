"""Security: nobody gets in, tampered models are refused, nothing private leaks, the worker shows little.

1. ``POST /v1/events``: no token 401, an unknown token 403, over the rate limit 429 with
   ``Retry-After``, per token (another token still gets 202). ``/analyze`` and ``/metrics``
   take the token too; ``/health`` does not.
1b. A hostile body, 1 MiB of ``[{},{},...]``: a 422 listing at most ``api_max_listed_errors``
   errors (the rest counted), a response of a few KB, and ``/health`` and a small POST sent
   once the big body is uploaded are answered before it (validation is off the event loop).
2. Models are verified before loading, through the running services: a signed version
   whose model file, or whose metadata, was changed on disk after signing and made current
   is refused by a running worker and by the API (both keep the model they have), and a
   worker does not start on it.
3. Planted values (a student id, a secret in a command and in code, the pseudonym key,
   the API token) go through the API with a worker running, in valid and invalid
   events; then every topic's bytes (dead letters decoded), both logs, both
   ``/metrics`` and every error response are scanned for them.
4. The worker's web server answers nothing but ``/health``, ``/ready``, ``/metrics``
   and ``/analyze``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from typing import Any

import httpx

from bench.chaos.common import Account, ApiProcess, Env, Observer
from detector import ModelRegistry

STUDENT = "stud-PLANTED-7f3a9c"
SECRET = "Pl4ntedS3cret9d1e"  # noqa: S105 - planted on purpose
TOKEN_A = "chaos-token-A-5e8b1c2d9f-7a3e0b6c4d1f8a2e"  # noqa: S105 - tokens need 32+ characters
TOKEN_B = "chaos-token-B-0a4c7e6b13-2f9d5c8e1b7a4f6d"  # noqa: S105
MAX_LISTED = 50
WORKER_PATHS_ALLOWED = {"/health", "/ready", "/metrics", "/analyze"}
WORKER_PATHS_PROBED = [
    "/",
    "/router/",
    "/table/",
    "/table/cli-sessions/",
    "/graph/",
    "/stats/",
    "/performance/",
    "/assignment/",
    "/signal/",
    "/docs",
    "/openapi.json",
    "/favicon.ico",
    "/metrics/",
    "/../etc/passwd",
    "/health",
    "/ready",
    "/metrics",
]


async def run(env: Env) -> Account:
    acc = Account("security")
    settings = env.settings(struggling_threshold=2)
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else ""
    planted = {"student id": STUDENT, "secret": SECRET, "pseudonym key": key, "api token": TOKEN_A}
    worker = env.worker(settings, "security")
    api = ApiProcess(
        env,
        settings,
        [TOKEN_A, TOKEN_B],
        api_rate_limit_per_minute="30",
        api_max_listed_errors=str(MAX_LISTED),
    )
    await asyncio.gather(asyncio.to_thread(worker.wait_ready), asyncio.to_thread(api.wait_ready))
    responses: list[str] = []
    notes: list[str] = []
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        await _auth_and_rate(acc, client, responses, notes)
        await _hostile_body(acc, client, notes)
        await _plant(acc, client, responses)
        await _web_exposure(acc, worker, notes)
        await _tampered_model(acc, env, settings, worker, client, notes)
    async with Observer(settings) as obs:
        obs.keep_raw = True
        await obs.pump(5.0)
    inputs = await _read_inputs(settings)
    texts = {
        "worker log": worker.log_path.read_text(errors="replace"),
        "api log": api.log(),
        "worker /metrics": worker.get("/metrics")[1].decode(errors="replace"),
        "api /metrics": (
            await asyncio.to_thread(
                httpx.get, api.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN_B}"}, timeout=10
            )
        ).text,
        "error responses": "\n".join(responses),
        "topics": "\n".join(_decoded(t, k, v) for t, k, v in obs.raw + inputs),
    }
    leaks = [
        f"{what} in {where}: ...{text[max(0, text.index(v) - 60) : text.index(v) + 30]!r}..."
        for where, text in texts.items()
        for what, v in planted.items()
        if v in text
    ]
    acc.check(not leaks, f"planted values found: {leaks}")
    acc.check(len(inputs) >= 4, f"only {len(inputs)} planted events reached Kafka")
    notes.append(f"{len(obs.raw) + len(inputs)} records on the topics")
    size_kb = sum(len(t) for t in texts.values()) // 1024
    acc.detail = "; ".join([*notes, f"scanned {len(texts)} sources ({size_kb} KB), leaks: {len(leaks)}"])
    return acc


async def _auth_and_rate(
    acc: Account, client: httpx.AsyncClient, responses: list[str], notes: list[str]
) -> None:
    body = {"event_type": "lab_command", "student_id": STUDENT, "session_id": "s", "seq": 0}
    body |= {"device_type": "cisco_ios", "command": "show version"}
    r = await client.post("/v1/events", json=body)
    acc.check(r.status_code == 401, f"no token: {r.status_code}")
    responses.append(r.text)
    r = await client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {SECRET}"})
    acc.check(r.status_code == 403, f"unknown token: {r.status_code}")
    responses.append(r.text)
    r = await client.post("/v1/events", json=body, headers={"Authorization": f"Basic {TOKEN_A}"})
    acc.check(r.status_code == 401, f"not a bearer token: {r.status_code}")
    codes = []
    for _ in range(40):  # 30 per minute: the bucket holds 30
        r = await client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {TOKEN_A}"})
        codes.append(r.status_code)
        if r.status_code == 429:
            acc.check(int(r.headers.get("retry-after", "0")) >= 1, "429 without Retry-After")
            responses.append(r.text)
    limited = codes.count(429)
    acc.check(
        codes.count(202) == 30 and limited == 10, f"rate limit: {codes.count(202)} x 202, {limited} x 429"
    )
    r = await client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {TOKEN_B}"})
    acc.check(r.status_code == 202, f"other token while the first is limited: {r.status_code}")
    for method, path in (("POST", "/analyze"), ("GET", "/metrics")):
        r = await client.request(method, path, json={})
        acc.check(r.status_code == 401, f"{method} {path} without a token: {r.status_code}")
    acc.check((await client.get("/health")).status_code == 200, "/health needs no token")
    notes.append(f"401/403 ok, rate limit {codes.count(202)} x 202 then {limited} x 429, other token 202")


async def _hostile_body(acc: Account, client: httpx.AsyncClient, notes: list[str]) -> None:
    """1 MiB of ``[{},...]``: bounded 422, and other requests answered while it is validated."""
    headers = {"Authorization": f"Bearer {TOKEN_B}", "Content-Type": "application/json"}
    items = (1024 * 1024 - 2) // 3
    body = b"[" + b",".join([b"{}"] * items) + b"]"
    uploaded = asyncio.Event()

    async def upload() -> Any:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]
        uploaded.set()  # resumed once the last chunk is written: the API holds the whole body

    big = asyncio.create_task(client.post("/v1/events", content=upload(), headers=headers))
    await uploaded.wait()
    health = await client.get("/health")
    small = await client.post("/v1/events", content=b"{not json", headers=headers)
    served_meanwhile = not big.done()
    r = await big
    acc.check(health.status_code == 200 and small.status_code == 422, "requests during the big body")
    acc.check(served_meanwhile, "/health and a small POST waited for the 1 MiB body's validation")
    acc.check(r.status_code == 422, f"1 MiB of empty objects: {r.status_code}")
    answer = r.json() if r.status_code == 422 else {}
    listed, rest = len(answer.get("errors", [])), answer.get("errors_not_listed", 0)
    acc.check(listed == MAX_LISTED and listed + rest >= items, f"errors: {listed} listed, {rest} more")
    acc.check(len(r.content) < 200 * MAX_LISTED + 1024, f"a {len(r.content)}-byte answer to a hostile body")
    notes.append(
        f"1 MiB [{{}},...]: 422 of {len(r.content)} bytes ({listed} errors listed, {rest} counted), "
        "/health and a small POST answered while it validated"
    )


async def _plant(acc: Account, client: httpx.AsyncClient, responses: list[str]) -> None:
    """Valid events carrying planted values (they must be pseudonymised/scrubbed) and invalid ones
    (the 422 must not echo them)."""
    headers = {"Authorization": f"Bearer {TOKEN_B}"}
    base = {"student_id": STUDENT, "session_id": "lab-planted", "device_type": "cisco_ios"}
    code = {
        "event_type": "code_submission",
        "student_id": STUDENT,
        "exercise_id": "ex-p",
        "language": "python",
    }
    good = [
        {"event_type": "lab_command", **base, "seq": 0, "command": f"enable secret {SECRET}"},
        {"event_type": "lab_command", **base, "seq": 1, "command": f"username admin password {SECRET}"},
        code | {"code": f'password = "{SECRET}"\nprint(password'},  # syntax error + a secret
        code | {"code": f'connect(host="r1", password="{SECRET}")\n'},
        code | {"code": f"mail = 'x@y.org'  # {STUDENT}\nif True print(1)"},  # fails again: struggling alert
    ]
    r = await client.post("/v1/events", json=good, headers=headers)
    acc.check(r.status_code == 202, f"planted valid batch: {r.status_code} {r.text[:200]}")
    bad: list[Any] = [
        {"event_type": "lab_command", **base, "seq": SECRET, "command": "show run"},
        {"event_type": "lab_command", **base, "seq": 2, "command": "x", STUDENT: SECRET},
        {"event_type": "code_submission", "student_id": {"id": STUDENT}, "code": SECRET, "exercise_id": 5},
        {"event_type": SECRET, "student_id": STUDENT},
        {"event_type": "lab_command", **base, "seq": 3, "device_type": SECRET, "command": SECRET},
        {"event_type": "lab_command", **base, "seq": 4, "command": "x", "event_id": STUDENT + SECRET},
        {"event_type": "lab_command", **base, "seq": 5, "command": "x", "occurred_at": SECRET},
        {"event_type": "code_submission", "student_id": "x" * 300 + STUDENT, "code": "", "exercise_id": "e"},
    ]
    for b in bad:
        r = await client.post("/v1/events", json=b, headers=headers)
        acc.check(r.status_code == 422, f"planted invalid event: {r.status_code}")
        responses.append(r.text)
    r = await client.post(
        "/v1/events", content=f'{{"student_id": "{STUDENT}", {SECRET}'.encode(), headers=headers
    )
    responses.append(r.text)


async def _web_exposure(acc: Account, worker: Any, notes: list[str]) -> None:
    served = []
    for path in WORKER_PATHS_PROBED:
        status, _ = await asyncio.to_thread(worker.get, path)
        if status < 400:
            served.append(path)
    status, _ = await asyncio.to_thread(_post, worker.url + "/analyze", b"{}")
    if status < 400:
        served.append("/analyze")
    extra = set(served) - WORKER_PATHS_ALLOWED
    acc.check(not extra, f"worker serves more than it should: {sorted(extra)}")
    notes.append(f"worker web: {len(WORKER_PATHS_PROBED) + 1} paths probed, served {sorted(set(served))}")


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    r = httpx.post(url, content=body, timeout=5)
    return r.status_code, r.content


async def _tampered_model(
    acc: Account, env: Env, settings: Any, worker: Any, client: httpx.AsyncClient, notes: list[str]
) -> None:
    """Save a properly signed version, then change it on disk (what an attacker with write access
    to the model directory but without the signing key would do): once its model file, once its
    metadata (the thresholds). Running services keep their model; a new worker refuses to start."""
    model_dir = env.root / "models-tampered"
    shutil.copytree(settings.model_dir, model_dir)
    registry = ModelRegistry.from_settings(settings, model_dir)
    good = registry.current_version()
    assert good is not None
    # the worker and the API both train a model when they start on an empty registry; the one promoted
    # last is current, and each switches to it at its next poll: wait until both serve it
    for _ in range(60):
        before_api = (await client.get("/health")).json().get("model_version")
        before_worker = json.loads((await asyncio.to_thread(worker.get, "/ready"))[1]).get("model_version")
        if before_api == before_worker == good:
            break
        await asyncio.sleep(0.5)
    acc.check(before_api == before_worker == good, f"serving {before_worker} and {before_api}, not {good}")
    # the running worker and API read settings.model_dir: tamper new versions there too
    live = ModelRegistry.from_settings(settings)
    for what in ("model file", "metadata"):
        bad = _tampered_version(live, good, what)
        await asyncio.sleep(max(4.0, 2 * settings.model_poll_s))  # both poll the registry
        try:
            ready = json.loads((await asyncio.to_thread(worker.get, "/ready"))[1])
            acc.check(worker.proc.poll() is None, f"worker died on a tampered {what}")
            now = ready.get("model_version")
            acc.check(
                now == before_worker, f"worker switched from {before_worker} to {now} (tampered {what})"
            )
            after_api = (await client.get("/health")).json().get("model_version")
            acc.check(after_api == before_api, f"API switched to {after_api} (tampered {what})")
            log = worker.log_path.read_text(errors="replace")
            acc.check(f"refusing model {bad!r}" in log, f"worker log does not say it refused the {what}")
        finally:
            live.promote(good)  # restore the shared registry for the other scenarios
            shutil.rmtree(settings.model_dir / "versions" / bad, ignore_errors=True)
    _tampered_version(registry, good, "model file")
    fresh = env.worker(settings.model_copy(update={"model_dir": model_dir}), "security-tampered")
    assert fresh.proc is not None
    try:
        code = await asyncio.to_thread(fresh.proc.wait, 60)
    except Exception:  # noqa: BLE001 - still running: it started on a tampered model
        code = None
    log = fresh.log_path.read_text(errors="replace")
    acc.check(code not in (None, 0) and "refusing model" in log, f"worker on a tampered model: exit {code}")
    notes.append(
        f"signed versions changed on disk (model file; metadata) refused by running worker and API, "
        f"new worker exits {code}"
    )


def _tampered_version(registry: ModelRegistry, good: str, what: str) -> str:
    """A signed copy of ``good`` saved by the registry, then changed without the key and made current."""
    bad = registry.save(registry.load(good), {"source": "chaos security", "to be tampered": what})
    root = registry.model_dir / "versions" / bad
    if what == "model file":
        with (root / "model.skops").open("ab") as f:
            f.write(b"\x00tampered")
    else:  # thresholds a hundred times higher: an attacker silencing alerts
        meta = json.loads((root / "metadata.json").read_text())
        meta["thresholds"] = {k: v * 100 for k, v in meta["thresholds"].items()}
        (root / "metadata.json").write_text(json.dumps(meta))
    (registry.model_dir / "CURRENT").write_text(bad + "\n")
    return bad


async def _read_inputs(settings: Any) -> list[tuple[str, bytes | None, bytes | None]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *settings.topics.inputs(),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[tuple[str, bytes | None, bytes | None]] = []
    try:
        while batches := await consumer.getmany(timeout_ms=1500):
            for tp, msgs in batches.items():
                out += [(tp.topic, m.key, m.value) for m in msgs]
    finally:
        await consumer.stop()
    return out


def _decoded(topic: str, key: bytes | None, value: bytes | None) -> str:
    """A record as text, with a dead letter's base64 key and value decoded too."""
    text = (key or b"").decode(errors="replace") + " " + (value or b"").decode(errors="replace")
    if topic.endswith("dead-letters") and value:
        d = json.loads(value)
        for f in ("key", "value"):
            if d.get(f):
                text += " " + base64.b64decode(d[f]).decode(errors="replace")
    return text
