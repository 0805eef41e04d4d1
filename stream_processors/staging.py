"""Table writes staged until a batch's outputs are delivered.

A Faust table write goes to its changelog topic on its own schedule. If a
worker wrote an incident's state, crashed, and the alert that opened the
incident had not reached Kafka yet, the replay would find the incident already
open and never send the alert: a lost alert. So pipelines write to a
:class:`StagedTable`; the worker applies the staged writes to the real tables
only after the batch's outputs are delivered (and discards them when a batch
fails and is retried record by record). The order is then: outputs, state,
offsets. A crash anywhere replays the batch against the old state and repeats
the same outputs under the same ids (at-least-once), never fewer.

>>> t = StagedTable({})
>>> t["r1"] = {"n": 1}
>>> t.get("r1"), t.table
({'n': 1}, {})
>>> t.apply(); t.table
{'r1': {'n': 1}}
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_MISSING = object()
_DELETED = object()  # a staged delete


class StagedTable(MutableMapping[str, Any]):
    """A table view whose writes wait in memory until :meth:`apply` (reads see them at once)."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.staged: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self.staged.get(key, _MISSING)
        if value is _DELETED:
            raise KeyError(key)
        return self.table[key] if value is _MISSING else value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.staged.get(key, _MISSING)
        if value is _DELETED:
            return default
        return self.table.get(key, default) if value is _MISSING else value

    def __setitem__(self, key: str, value: Any) -> None:
        self.staged[key] = value

    def __delitem__(self, key: str) -> None:
        """Staged too: :meth:`apply` deletes the key from the table (a tombstone on its changelog)."""
        self.staged[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        yield from (k for k, v in self.staged.items() if v is not _DELETED)
        yield from (k for k in self.table if k not in self.staged)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def apply(self) -> None:
        """Write what is staged to the real table (one changelog record per key), then forget it."""
        for key, value in self.staged.items():
            if value is _DELETED:
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = value
        self.staged.clear()

    def discard(self) -> None:
        self.staged.clear()
