"""xAPI ingest: statements from an LMS or an LRS mapped onto collector input (``/xapi/statements``)."""

from producers.xapi.mapping import MappedStatement, content_hash, map_statement, verb_label
from producers.xapi.router import XAPI_VERSION, xapi_router
from producers.xapi.store import StatementStore

__all__ = [
    "XAPI_VERSION",
    "MappedStatement",
    "StatementStore",
    "content_hash",
    "map_statement",
    "verb_label",
    "xapi_router",
]
