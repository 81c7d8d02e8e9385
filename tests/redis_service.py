"""The Redis the tests use: ``TENANTCTL_TEST_REDIS_URL``, default redis://127.0.0.1:6379/0.

Keys written by tests start with a prefix naming the test run and worker, so parallel runs
on the same server never read or delete each other's keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("TENANTCTL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FIX = "run `bash scripts/ensure_services.sh` as root (it installs and starts redis-server)"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A client on the test Redis; fails loudly if nothing answers there."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, decode_responses=True)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        client.close()
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); {FIX}")
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted at teardown."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"tenantctl-test:{worker}:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*"))
    if keys:
        redis_client.delete(*keys)
