"""POST /v1/events: 202 only once the request's events are fsynced in the spool; 503 + Retry-After
when the spool cannot take them (full, a disk error), and then nothing of it counts as accepted
beyond the ``accepted`` prefix the body names."""

from __future__ import annotations

import os

import httpx
import pytest

from foundation.settings import Settings
from labstream.api import create_api
from labstream.broker import free_port
from producers import Collector
from producers import spool as spool_mod

TOKEN = "tok-" + "d" * 28
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _event(i: int) -> dict:
    return {
        "event_type": "lab_command",
        "student_id": f"student-{i}",
        "session_id": "s-1",
        "seq": i,
        "device_type": "cisco_ios",
        "command": "show clock",
    }


@pytest.fixture
def away(tmp_path):
    """An API whose Kafka is away (nothing listens on its port): every event stays in the spool."""
    s = Settings(
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        pseudonym_key="test-key-0123456789abcdef",  # type: ignore[arg-type]
        data_dir=tmp_path / "data",
        spool_max_bytes=8192,
        api_tokens=[TOKEN],  # type: ignore[list-item]
        api_rate_limit_per_minute=100_000,
    )
    c = Collector(s, producer_overrides={"max_block_ms": 200, "request_timeout_ms": 500})
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(s, collector=c)), base_url="http://a"
    )
    yield c, client
    c.close(timeout=1)


async def test_202_means_on_disk_and_a_full_spool_is_503_with_retry_after(away) -> None:
    c, client = away
    accepted = 0
    async with client:
        for i in range(200):
            r = await client.post("/v1/events", json=[_event(i * 5 + j) for j in range(5)], headers=AUTH)
            if r.status_code != 202:
                break
            accepted += 5
            assert c.spool._synced >= c.spool.appended_total  # noqa: SLF001 - fsynced before the 202
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert 0 < accepted and c.spool.depth == accepted + r.json()["accepted"]
    assert r.json()["accepted"] < 5


async def test_a_disk_error_is_503_and_the_next_request_works(away, monkeypatch) -> None:
    c, client = away
    real_write = os.write
    state = {"fail": True}

    def enospc(fd: int, data: bytes) -> int:
        if state["fail"]:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    async with client:
        assert (await client.post("/v1/events", json=[_event(0)], headers=AUTH)).status_code == 202
        monkeypatch.setattr(spool_mod.os, "write", enospc)
        r = await client.post("/v1/events", json=[_event(1), _event(2)], headers=AUTH)
        assert r.status_code == 503 and r.headers["retry-after"] and r.json()["accepted"] == 0
        state["fail"] = False
        r = await client.post("/v1/events", json=[_event(3)], headers=AUTH)
        assert r.status_code == 202
    assert c.spool.depth == 2 and c.lost == 0
