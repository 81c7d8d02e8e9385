"""TenantMiddleware: every request runs in its own tenant's scope or gets a JSON refusal that
names nothing; plain ASGI and under Starlette."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from models import User
from toolkit import archive_tenant, suspend_tenant, tenant_session, tenant_sessionmaker
from toolkit.api_keys import create as create_key
from toolkit.asgi import TenantMiddleware
from toolkit.tenant_cache import MemoryTenantCache
from toolkit.tenant_context import current_tenant

BASE = "example.com"


class Recorder:
    """An ASGI app that answers 200 and records the tenant it ran under."""

    def __init__(self):
        self.seen = []

    async def __call__(self, scope, receive, send):
        await asyncio.sleep(0.01)  # let concurrent requests interleave
        scope_tenant = current_tenant()
        self.seen.append((scope_tenant.subdomain if scope_tenant else None, scope["state"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(app, headers, kind="http"):
    """Run one request through ``app``; the messages it sent."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": kind, "headers": [(k.encode(), v.encode()) for k, v in headers]}
    asyncio.run(app(scope, receive, send))
    return sent


def _status_and_body(sent):
    return sent[0]["status"], json.loads(sent[1]["body"]) if sent[1]["body"] != b"ok" else "ok"


@pytest.fixture
def middleware(engine):
    recorder = Recorder()
    app = TenantMiddleware(recorder, engine=engine, base_domain=BASE, cache=MemoryTenantCache())
    return app, recorder


def test_the_app_runs_inside_the_hosts_tenant_scope(middleware, make_tenants):
    make_tenants("acme")
    app, recorder = middleware

    assert _status_and_body(_call(app, [("host", "acme.example.com")])) == (200, "ok")

    ((subdomain, state),) = recorder.seen
    assert subdomain == "acme"
    assert state["tenant"].tenant.schema == "tenant_acme"
    assert current_tenant() is None  # nothing leaks out of the request


def test_refusals_are_json_with_the_right_status_and_never_reach_the_app(
    engine, middleware, make_tenants
):
    make_tenants("acme", "sleepy", "old")
    key = create_key(engine, "acme", "ci", scopes=["orders:read"]).plaintext
    suspend_tenant(engine, "sleepy")
    archive_tenant(engine, "old")
    app, recorder = middleware
    scoped = TenantMiddleware(
        recorder, engine=engine, base_domain=BASE, required_scope="billing:write"
    )

    answers = {
        "unknown": _status_and_body(_call(app, [("host", "nobody.example.com")])),
        "no host": _status_and_body(_call(app, [])),
        "two hosts": _status_and_body(
            _call(app, [("host", "acme.example.com"), ("host", "old.example.com")])
        ),
        "suspended": _status_and_body(_call(app, [("host", "sleepy.example.com")])),
        "archived": _status_and_body(_call(app, [("host", "old.example.com")])),
        "bad key": _status_and_body(_call(app, [("x-api-key", key[:-2] + "zz")])),
        "scope": _status_and_body(_call(scoped, [("x-api-key", key)])),
    }

    assert {name: status for name, (status, _) in answers.items()} == {
        "unknown": 404,
        "no host": 404,
        "two hosts": 404,
        "suspended": 403,
        "archived": 410,
        "bad key": 401,
        "scope": 403,
    }
    assert answers["unknown"][1] == answers["no host"][1] == answers["two hosts"][1]
    assert answers["scope"][1]["error"] == "insufficient_scope"
    assert "nobody" not in json.dumps(answers)
    assert "acme" not in json.dumps(answers)
    assert recorder.seen == []


def test_concurrent_requests_each_see_their_own_tenant(engine, make_tenants):
    make_tenants("acme", "globex")
    recorder = Recorder()
    app = TenantMiddleware(recorder, engine=engine, base_domain=BASE)

    async def both():
        async def one(host):
            async def receive():
                return {"type": "http.request", "body": b""}

            async def send(message):
                pass

            await app({"type": "http", "headers": [(b"host", host.encode())]}, receive, send)

        hosts = ["acme.example.com", "globex.example.com"] * 10
        await asyncio.gather(*(one(host) for host in hosts))

    asyncio.run(both())

    seen = [(subdomain, state["tenant"].subdomain) for subdomain, state in recorder.seen]
    assert len(seen) == 20
    assert all(scope_tenant == resolved for scope_tenant, resolved in seen)
    assert {subdomain for subdomain, _ in seen} == {"acme", "globex"}


def test_a_refused_websocket_is_closed_and_lifespan_passes_through(middleware):
    app, _ = middleware
    sent = _call(app, [("host", "nobody.example.com")], kind="websocket")
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "tenant_not_found"}]

    passed = []

    async def lifespan_app(scope, receive, send):
        passed.append(scope["type"])

    lifespan = TenantMiddleware(lifespan_app, engine=None, base_domain=BASE)
    asyncio.run(lifespan({"type": "lifespan"}, None, None))
    assert passed == ["lifespan"]


def test_a_starlette_app_reads_only_its_tenants_rows(engine, make_tenants):
    make_tenants("acme", "globex")
    for sub in ("acme", "globex"):
        with tenant_session(engine, sub) as session, session.begin():
            session.add(User(email=f"owner@{sub}.test"))

    session_factory = tenant_sessionmaker(engine)  # bound to the tenant in scope

    async def users(request: Request) -> JSONResponse:
        with session_factory() as session:
            emails = sorted(session.scalars(select(User.email)))
        return JSONResponse({"tenant": request.state.tenant.subdomain, "users": emails})

    web = Starlette(routes=[Route("/users", users)])
    web.add_middleware(TenantMiddleware, engine=engine, base_domain=BASE)

    with TestClient(web, base_url="http://acme.example.com") as client:
        acme = client.get("/users").json()
    with TestClient(web, base_url="http://globex.example.com") as client:
        globex = client.get("/users").json()
    with TestClient(web, base_url="http://nobody.example.com") as client:
        unknown = client.get("/users")

    assert acme == {"tenant": "acme", "users": ["owner@acme.test"]}
    assert globex == {"tenant": "globex", "users": ["owner@globex.test"]}
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "tenant_not_found"
    with engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar() == '"$user", public'
