"""The one place that orders a unit of work's commit: outputs, then table state, then offsets.

At-least-once holds because of this order. Outputs are delivered first (``deliver`` returns
only once Kafka has every one, or raises); only then is the staged table state applied (its
changelog records follow the outputs: a crash in between replays the batch, never loses an
alert); only then are the input offsets acked, so the consumer's commit can pass them. If
delivery raises, neither state nor offsets move, and the records are read again. An optional
``before_state`` hook runs between outputs and state when there is state (the worker waits
there for its producer to know the tables' changelog topics); if it raises, nothing moves either.

>>> import asyncio
>>> done = []
>>> async def deliver(result): done.append("outputs")
>>> class Table:
...     def apply(self): done.append("state")
>>> class Offsets:
...     def ack(self): done.append("offsets")
>>> asyncio.run(Checkpoint(deliver).commit(None, [Table()], Offsets()))
>>> done
['outputs', 'state', 'offsets']
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

__all__ = ["Checkpoint"]


class _State(Protocol):
    def apply(self) -> None: ...


class _Offsets(Protocol):
    def ack(self) -> None: ...


class Checkpoint:
    """Commits results handed to it; the worker and its timers never order these steps themselves."""

    def __init__(
        self,
        deliver: Callable[[Any], Awaitable[None]],
        before_state: Callable[[list[Any]], Awaitable[None]] | None = None,
    ) -> None:
        """``before_state``: awaited with the state about to be applied (when there is any), after the
        outputs: the worker makes sure its producer knows the tables' changelog topics there."""
        self._deliver = deliver
        self._before_state = before_state

    async def commit(self, result: Any, state: Iterable[_State], offsets: _Offsets | None = None) -> None:
        """Deliver ``result``'s outputs, then apply ``state``, then ack ``offsets`` (None: a timer's
        work, which consumed nothing)."""
        await self._deliver(result)
        tables = list(state)
        if tables and self._before_state is not None:
            await self._before_state(tables)
        for table in tables:
            table.apply()
        if offsets is not None:
            offsets.ack()
