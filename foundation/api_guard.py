"""The gate of ``labstream api``: credentials, body size and login attempts, for every route.

:class:`ApiGuard` is an ASGI middleware that :func:`labstream.api.create_api` wraps
around the whole app, so it runs before any route, including routes added later
(``create_api(routers=...)``, ``app.include_router``, ``@app.get``). For each HTTP
request, in this order:

1. A path outside :data:`PUBLIC_PATHS` needs a token from ``api_tokens``, as a bearer
   token or as HTTP Basic's password (xAPI clients and browsers send Basic), compared
   in constant time: none is a 401, an unknown one a 403.
2. Failed authentications are counted per client address (a token bucket of
   ``api_auth_failures_per_minute``). Once an address has used its budget, every
   request from it that needs a token is a 429 with ``Retry-After``, *before* the
   token is compared, so a guess cannot be confirmed while limited. (Clients behind
   one NAT address share the budget; behind a reverse proxy, run uvicorn with
   ``--proxy-headers`` so the address is the client's.)
3. Each token has ``api_rate_limit_per_minute`` requests (429 with ``Retry-After``).
4. Every body, public paths included, is at most ``api_max_request_bytes``: a larger
   ``Content-Length`` or a streamed body that grows past it is a 413. The guard reads
   the (bounded) body itself and hands it on, so no route can read more.

A new route is therefore authenticated and size-limited by default; making one
public means adding its path to :data:`PUBLIC_PATHS`, and
``tests/labstream/test_api_guard.py`` walks the OpenAPI document and every mounted
route to prove the rest refuse a request without credentials (401) and an
oversized body (413). Routers also declare ``Depends(require_credentials)``, which
is a 401 when the guard did not run (a router mounted on an app without the guard
fails closed) and gives the index of the token used.

``/docs`` and ``/openapi.json`` stay public: they describe the interface and hold no
data, and the browser's Swagger UI loads ``/openapi.json`` without credentials
(its "Authorize" button then sends the token to the guarded routes).

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> app.add_middleware(ApiGuard, tokens=["x" * 32], max_body_bytes=1024)
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import time
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundation.settings import Settings

__all__ = [
    "PUBLIC_PATHS",
    "ApiGuard",
    "install_api_guard",
    "RateLimiter",
    "bound_errors",
    "install_bounded_validation_errors",
    "require_credentials",
]

# Answered without credentials (bodies are still size-limited). Keep this list short.
PUBLIC_PATHS: frozenset[str] = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
# paths whose clients speak HTTP Basic (xAPI clients, a tutor's browser): the 401 challenges Basic first
BASIC_PREFIXES: tuple[str, ...] = ("/xapi", "/tutor", "/v1/insights")
SCOPE_KEY = "labstream.api_token"  # the index of the token the guard accepted, in the ASGI scope


class RateLimiter:
    """A token bucket per key: ``per_minute`` takes, refilled continuously; at most ``max_keys`` kept.

    >>> limiter = RateLimiter(2)
    >>> limiter.take("a"), limiter.take("a"), limiter.take("a") > 0
    (0.0, 0.0, True)
    """

    def __init__(self, per_minute: int, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, who: Hashable, now: float) -> float:
        tokens, last = self._buckets.get(who, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def wait(self, who: Hashable) -> float:
        """0.0 when ``who`` may go now (nothing is taken), else the seconds to wait."""
        with self._lock:
            tokens = self._level(who, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, who: Hashable) -> float:
        """Take one: 0.0 when allowed, else the seconds to wait (nothing taken)."""
        now = time.monotonic()
        with self._lock:
            tokens = self._level(who, now)
            allowed = tokens >= 1.0
            self._buckets[who] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)
        return 0.0 if allowed else (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget full buckets (they equal a new one); then, if still too many, the oldest."""
        for key in [k for k in self._buckets if self._level(k, now) >= self.capacity]:
            del self._buckets[key]
        while len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]


def _secret(token: SecretStr | str) -> bytes:
    return (token.get_secret_value() if isinstance(token, SecretStr) else str(token)).encode("utf-8")


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


class ApiGuard:
    """ASGI middleware: authentication, failed-login and per-token rate limits, body size (see module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: Sequence[SecretStr | str],
        max_body_bytes: int,
        per_token_per_minute: int = 600,
        auth_failures_per_minute: int = 10,
        public: Iterable[str] = PUBLIC_PATHS,
    ) -> None:
        self.app = app
        self.tokens = [_secret(t) for t in tokens]
        self.max_body_bytes = max_body_bytes
        self.per_token = RateLimiter(per_token_per_minute)
        self.failures = RateLimiter(auth_failures_per_minute)
        self.public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["path"] not in self.public:
            refusal = self._authenticate(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        body = await self._read_body(headers, receive)
        if body is None:  # the client went away before its body was read: nothing to answer
            return
        if isinstance(body, JSONResponse):
            await body(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _authenticate(self, scope: Scope, headers: Headers) -> JSONResponse | None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = self.failures.wait(address)
        if wait > 0:
            return _refuse(429, "too many failed authentications from this address", _retry_after(wait))
        given = presented_token(headers)
        if not given:
            self.failures.take(address)
            return _refuse(
                401, "credentials required", {"WWW-Authenticate": _challenge(scope.get("path", ""))}
            )
        match = -1
        for i, token in enumerate(self.tokens):  # every token compared, in constant time each
            if hmac.compare_digest(given, token):
                match = i
        if match < 0:
            self.failures.take(address)
            return _refuse(403, "token not accepted")
        wait = self.per_token.take(match)
        if wait > 0:
            return _refuse(429, "rate limit exceeded", _retry_after(wait))
        scope[SCOPE_KEY] = match
        return None

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | JSONResponse | None:
        limit = self.max_body_bytes
        too_large = _refuse(413, f"request body larger than {limit} bytes")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def presented_token(headers: Headers) -> bytes:
    """The token a request presents: a bearer token, or HTTP Basic's password (its user name when the
    password is empty), as xAPI clients and browsers send it. Empty when there is none.

    >>> presented_token(Headers({"authorization": "Basic " + base64.b64encode(b"lms:t0ken").decode()}))
    b't0ken'
    """
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer":
        return credential.encode("utf-8")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credential, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return b""
        return password or user
    return b""


def _challenge(path: str) -> str:
    if path.startswith(BASIC_PREFIXES):
        return 'Basic realm="labstream", charset="UTF-8", Bearer realm="labstream"'
    return 'Bearer realm="labstream", Basic realm="labstream", charset="UTF-8"'


def _refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def require_credentials(request: Request) -> int:
    """Dependency for guarded routes: the index of the accepted token; 401 if no guard ran."""
    index = request.scope.get(SCOPE_KEY)
    if not isinstance(index, int):
        raise HTTPException(401, "bearer token required", {"WWW-Authenticate": 'Bearer realm="labstream"'})
    return index


def bound_errors(errors: Iterable[Any], limit: int) -> tuple[list[Any], int]:
    """The first ``limit`` errors and how many more there were.

    >>> bound_errors(range(5), 2)
    ([0, 1], 3)
    """
    listed: list[Any] = []
    rest = 0
    for err in errors:
        if len(listed) < limit:
            listed.append(err)
        else:
            rest += 1
    return listed, rest


def install_bounded_validation_errors(app: Any, limit: int) -> None:
    """FastAPI's own 422s (routes that declare a body model) list at most ``limit`` errors, with
    ``errors_not_listed``, and never echo the input (``loc``, ``msg`` and ``type`` only)."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = ({"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors())
        listed, rest = bound_errors(errors, limit)
        return JSONResponse({"detail": listed, "errors_not_listed": rest}, status_code=422)

    app.add_exception_handler(RequestValidationError, handler)


def install_api_guard(app: Any, settings: Settings) -> None:
    """Put :class:`ApiGuard` around ``app`` with the settings' tokens and limits (what
    ``labstream api`` runs; middleware added after it wraps it)."""
    app.add_middleware(
        ApiGuard,
        tokens=settings.api_tokens,
        max_body_bytes=settings.api_max_request_bytes,
        per_token_per_minute=settings.api_rate_limit_per_minute,
        auth_failures_per_minute=settings.api_auth_failures_per_minute,
    )
