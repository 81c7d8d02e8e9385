"""A real PgBouncer in transaction mode in front of the test server, started per test.

The instance listens on a free loopback port, forwards every database name to the test
server (trust auth, as the server itself) and keeps ``default_pool_size`` server connections
per database and user: one by default, so every client's transactions really share one
server connection. PgBouncer refuses to run as root; as root it is told to switch to the
user ``postgres`` (its ``user`` setting), so its files live in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

PGBOUNCER_BIN = os.environ.get("TENANTCTL_TEST_PGBOUNCER", "/usr/sbin/pgbouncer")
RUN_AS_WHEN_ROOT = "postgres"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
MISSING = (
    f"PgBouncer is not installed ({PGBOUNCER_BIN} missing), so the pooler tests cannot run: "
    "run `bash scripts/ensure_services.sh` as root (it apt-get installs pgbouncer)"
)


@dataclass(frozen=True)
class BouncerConfig:
    """What a test PgBouncer listens on and where it sends connections."""

    server_host: str
    server_port: int
    server_user: str
    pool_size: int = 1
    pool_mode: str = "transaction"
    # A client waiting longer than this for the server connection fails instead of hanging.
    query_wait_timeout: int = 10


@dataclass(frozen=True)
class Bouncer:
    """A running PgBouncer: where to connect and the log to read when something goes wrong."""

    host: str
    port: int
    log_path: Path

    def url(self, server_url: URL) -> URL:
        """``server_url`` (same database and user) routed through this PgBouncer."""
        return server_url.set(host=self.host, port=self.port)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of PgBouncer's log, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def render_ini(config: BouncerConfig, port: int, auth_file: Path) -> str:
    """The pgbouncer.ini text: every database forwarded, transaction pooling, no unix socket."""
    lines = [
        "[databases]",
        f"* = host={config.server_host} port={config.server_port}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {auth_file}",
        f"pool_mode = {config.pool_mode}",
        f"default_pool_size = {config.pool_size}",
        "min_pool_size = 0",
        "reserve_pool_size = 0",
        # PgBouncer's default, spelled out: transaction mode resets nothing between clients.
        "server_reset_query_always = 0",
        f"query_wait_timeout = {config.query_wait_timeout}",
    ]
    if os.geteuid() == 0:
        lines.append(f"user = {RUN_AS_WHEN_ROOT}")
    return "\n".join(lines) + "\n"


def _owned_directory() -> Path:
    """A new private directory owned by the user PgBouncer will run as."""
    directory = Path(tempfile.mkdtemp(prefix="tenantctl-pgbouncer-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(RUN_AS_WHEN_ROOT)
        os.chown(directory, account.pw_uid, account.pw_gid)
    return directory


def _wait_until_accepting(
    process: subprocess.Popen[bytes], bouncer: Bouncer, config: BouncerConfig
) -> None:
    """Return once a client can log in; raise with the log if PgBouncer died or timed out."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"pgbouncer exited with code {process.returncode} at start:\n{bouncer.log_tail()}"
            )
        try:
            psycopg.connect(
                host=bouncer.host,
                port=bouncer.port,
                user=config.server_user,
                dbname="postgres",
                connect_timeout=2,
            ).close()
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"pgbouncer on port {bouncer.port} accepted no connection within "
                    f"{START_TIMEOUT_SECONDS}s:\n{bouncer.log_tail()}"
                ) from None
            time.sleep(0.05)
        else:
            return


def _start(config: BouncerConfig, directory: Path) -> tuple[subprocess.Popen[bytes], Bouncer]:
    """Write the config for a free port and start PgBouncer on it; not yet waited for."""
    auth_file = directory / "userlist.txt"
    auth_file.write_text(f'"{config.server_user}" ""\n')
    port = free_port()
    ini = directory / "pgbouncer.ini"
    ini.write_text(render_ini(config, port, auth_file))
    for path in (auth_file, ini):
        path.chmod(0o644)
    bouncer = Bouncer(host="127.0.0.1", port=port, log_path=directory / f"pgbouncer-{port}.log")
    with bouncer.log_path.open("wb") as log:
        process = subprocess.Popen([PGBOUNCER_BIN, str(ini)], stdout=log, stderr=subprocess.STDOUT)
    return process, bouncer


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (PgBouncer's fast shutdown), then wait; SIGKILL only if it hangs."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_bouncer(config: BouncerConfig, *, attempts: int = 3) -> Iterator[Bouncer]:
    """Start PgBouncer, wait until it accepts connections, and stop it (SIGTERM, wait) after.

    A port found free can be taken by another process before PgBouncer binds it; a start
    that fails is retried on a new port, ``attempts`` times in all.
    """
    if not Path(PGBOUNCER_BIN).is_file():
        pytest.skip(f"!!! {MISSING} !!!")
    directory = _owned_directory()
    try:
        for attempt in range(1, attempts + 1):
            process, bouncer = _start(config, directory)
            try:
                _wait_until_accepting(process, bouncer, config)
            except RuntimeError:
                _stop(process)
                if attempt == attempts:
                    raise
            else:
                break
        try:
            yield bouncer
        finally:
            _stop(process)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pgbouncer(db_url: URL) -> Iterator[Bouncer]:
    """A PgBouncer in transaction mode with one server connection, in front of ``db_url``."""
    config = BouncerConfig(
        server_host=str(db_url.host),
        server_port=int(db_url.port or 5432),
        server_user=str(db_url.username),
    )
    with running_bouncer(config) as bouncer:
        yield bouncer


@pytest.fixture
def pgbouncer_url(pgbouncer: Bouncer, db_url: URL) -> URL:
    """``db_url`` (a new database with core at head) reached through ``pgbouncer``."""
    return pgbouncer.url(db_url)
