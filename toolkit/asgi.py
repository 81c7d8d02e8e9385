"""ASGI middleware: resolve each request's tenant, then run the app inside its tenant scope.

Pure ASGI (no framework import), so it wraps a Starlette or FastAPI app, or any other:

    app.add_middleware(TenantMiddleware, engine=engine, base_domain="example.com")  # Starlette
    app = TenantMiddleware(app, engine=engine, base_domain="example.com")           # any ASGI

The tenant comes from the API key header (``X-API-Key`` by default) or else from the
subdomain of ``Host`` (see ``toolkit.tenant_resolution``). A request that names no servable
tenant never reaches the app: it gets a JSON error (404 unknown, 403 suspended or missing
scope, 410 archived, 401 bad key) whose text repeats none of the request, and a WebSocket is
closed with code 1008. Otherwise the app runs inside ``tenant_scope(tenant)`` (so sessions
from ``toolkit.session`` are bound to it) with the ``ResolvedTenant`` in
``scope["state"]["tenant"]`` (Starlette's ``request.state.tenant``).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sqlalchemy import Engine

from toolkit.api_keys.verify import REFUSED
from toolkit.errors import (
    ApiKeyScopeDenied,
    CredentialError,
    InvalidApiKey,
    TenantNotResolved,
    TenantUnavailable,
)
from toolkit.tenant_cache import TenantCache
from toolkit.tenant_context import tenant_scope
from toolkit.tenant_resolution import NOT_RESOLVED, resolve_tenant

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_API_KEY_HEADER = "x-api-key"
POLICY_VIOLATION = 1008  # WebSocket close code
SCOPE_DENIED = "this API key lacks the scope this request needs"


class TenantMiddleware:
    """Resolves the tenant of every HTTP and WebSocket request; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine: Engine,
        base_domain: str,
        api_key_header: str = DEFAULT_API_KEY_HEADER,
        required_scope: str | None = None,
        cache: TenantCache | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.base_domain = base_domain
        self.api_key_header = api_key_header.lower().encode("latin-1")
        self.required_scope = required_scope
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with an error, or call the app inside the request's tenant scope."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            host, api_key = self._credentials(scope)
            # The lookup blocks on the database: off the event loop, in the default executor.
            resolved = await asyncio.get_running_loop().run_in_executor(
                None,
                functools.partial(
                    resolve_tenant,
                    self.engine,
                    host=host,
                    api_key=api_key,
                    base_domain=self.base_domain,
                    required_scope=self.required_scope,
                    cache=self.cache,
                ),
            )
        except (TenantUnavailable, CredentialError) as refused:
            await _refuse(scope, send, refused)
            return
        scope = {**scope, "state": {**scope.get("state", {}), "tenant": resolved}}
        with tenant_scope(resolved.subdomain):
            await self.app(scope, receive, send)

    def _credentials(self, scope: Scope) -> tuple[str | None, str | None]:
        """The request's Host and API key; a repeated header is refused, never guessed."""
        hosts = [value for name, value in scope.get("headers", ()) if name == b"host"]
        keys = [value for name, value in scope.get("headers", ()) if name == self.api_key_header]
        if len(hosts) > 1:
            raise TenantNotResolved(NOT_RESOLVED)
        if len(keys) > 1:
            raise InvalidApiKey(REFUSED)
        return (
            hosts[0].decode("latin-1") if hosts else None,
            keys[0].decode("latin-1") if keys else None,
        )


async def _refuse(scope: Scope, send: Send, refused: TenantUnavailable | CredentialError) -> None:
    status, code, message = _answer(refused)
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": code})
        return
    body = json.dumps({"error": code, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"ApiKey"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _answer(refused: TenantUnavailable | CredentialError) -> tuple[int, str, str]:
    """HTTP status, error code and message of a refusal: fixed texts, no request input."""
    if isinstance(refused, TenantUnavailable):
        return refused.http_status, refused.code, str(refused)
    if isinstance(refused, ApiKeyScopeDenied):
        return 403, "insufficient_scope", SCOPE_DENIED
    return 401, "invalid_api_key", REFUSED
