"""The verdict of one code check, and the constructors every checker shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Limit = Literal["size", "timeout", "memory", "recursion", "crash", "language"]


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    """What checking one submission found.

    ``limit`` is ``None`` when the checker reached a verdict. When a bound was hit instead
    (``"size"``, ``"timeout"``, ``"memory"``, ``"recursion"``, ``"crash"``, ``"language"``) the
    checker could not decide: ``has_syntax_error`` is ``False`` and ``error`` explains which
    bound, with ``line`` and ``column`` ``None``. Consumers that need pass/fail treat a
    non-``None`` limit as "unchecked", never as "valid".

    >>> CodeVerdict(False, None, ["os"], 9).as_output()["imports_used"]
    ['os']
    """

    has_syntax_error: bool
    error: dict[str, Any] | None
    imports_used: list[str] = field(default_factory=list)
    code_length: int = 0
    limit: str | None = None

    def as_output(self) -> dict[str, Any]:
        """The verdict's part of a ``code-checks`` record (``limit`` is not in the topic contract)."""
        return {
            "has_syntax_error": self.has_syntax_error,
            "error": None if self.error is None else dict(self.error),
            "imports_used": list(self.imports_used),
            "code_length": self.code_length,
        }

    def to_tuple(self) -> tuple[Any, ...]:
        """Compact form sent back by a checker process (cheaper to pickle than the dataclass)."""
        return (self.has_syntax_error, self.error, self.imports_used, self.code_length, self.limit)

    @classmethod
    def from_tuple(cls, raw: tuple[Any, ...]) -> CodeVerdict:
        """Inverse of :meth:`to_tuple`."""
        return cls(raw[0], raw[1], raw[2], raw[3], raw[4])


def error_info(message: str, line: int | None = None, column: int | None = None) -> dict[str, Any]:
    """The ``error`` object of the topic contract."""
    return {"message": message, "line": line, "column": column}


def ok(code_length: int, imports: list[str] | None = None) -> CodeVerdict:
    """A submission without a syntax error."""
    return CodeVerdict(False, None, imports or [], code_length)


def syntax_error(code_length: int, message: str, line: int | None, column: int | None) -> CodeVerdict:
    """A submission with a syntax error (imports are never reported for one)."""
    return CodeVerdict(True, error_info(message, line, column), [], code_length)


def limited(code_length: int, limit: Limit, message: str) -> CodeVerdict:
    """A submission the checker could not decide because a bound was hit."""
    return CodeVerdict(False, error_info(message), [], code_length, limit)


def size_limited(code_length: int, n_bytes: int, max_bytes: int) -> CodeVerdict:
    """A submission over the size bound; it is never parsed."""
    return limited(code_length, "size", f"submission is {n_bytes} bytes, over the limit of {max_bytes}")


def utf8_size(code: str, max_bytes: int) -> int | None:
    """UTF-8 size of ``code`` if it is over ``max_bytes``, else ``None``; avoids encoding when it can.

    Lone surrogates (JSON allows ``"\\udcff"``) count as the 3 bytes ``surrogatepass`` gives them.
    """
    n = len(code)
    if n * 4 <= max_bytes:
        return None
    size = len(code.encode("utf-8", "surrogatepass"))
    return size if size > max_bytes else None
