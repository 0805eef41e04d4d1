"""The README's Python examples run, against the real broker."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from foundation.settings import Settings
from tests.fixtures.kafka import consume_all

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples() -> None:
    assert _python_blocks()


@pytest.mark.parametrize("index", range(len(_python_blocks())))
async def test_readme_python_example_runs(
    index: int, settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_factory()
    monkeypatch.setenv("LABSTREAM_BOOTSTRAP_SERVERS", settings.bootstrap_servers or "")
    monkeypatch.setenv("LABSTREAM_PSEUDONYM_KEY", "readme-example-key")
    monkeypatch.setenv("LABSTREAM_DATA_DIR", str(settings.data_dir))
    for name, value in settings.topics.model_dump().items():
        monkeypatch.setenv(f"LABSTREAM_TOPIC_{name.upper()}", value)
    exec(compile(_python_blocks()[index], f"README.md python block {index}", "exec"), {})  # noqa: S102
    t = settings.topics
    bootstrap = settings.bootstrap_servers or ""
    got = await consume_all(bootstrap, t.inputs(), until=lambda g: all(g[x] for x in t.inputs()), timeout=20)
    assert all(got[x] for x in t.inputs())
    assert not any(b"s-1042" in (m.value or b"") + (m.key or b"") for msgs in got.values() for m in msgs)
