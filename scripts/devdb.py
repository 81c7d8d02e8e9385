"""Print a reachable database URL for the Makefile, starting the embedded default if needed.

Order: ``DATABASE_URL`` if set (it must be reachable); else a server at 127.0.0.1:5432
(database ``tenantctl`` is created on it if missing); else a project-local cluster in
``.pgdata/`` on a free port, created with initdb (as user ``postgres`` when run as root,
because PostgreSQL refuses to run as root). Diagnostics go to stderr; only the URL to stdout.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from toolkit.db import check_reachable, make_engine, mask_url
from toolkit.errors import TenantctlError
from toolkit.sql import quote_identifier

PROJECT = Path(__file__).resolve().parents[1]
PGDATA = PROJECT / ".pgdata"
DATABASE = "tenantctl"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5432


def main() -> int:
    """Print the URL to use, or explain on stderr why there is none and return 1."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if not _reachable(url):
            print(
                f"devdb: DATABASE_URL {mask_url(url)} is not reachable; start that server "
                "or unset DATABASE_URL to use the embedded default",
                file=sys.stderr,
            )
            return 1
        print(url)
        return 0
    port = DEFAULT_PORT if _listening(DEFAULT_PORT) else _local_cluster_port()
    _ensure_database(port)
    print(f"postgresql+psycopg://postgres@{DEFAULT_HOST}:{port}/{DATABASE}")
    return 0


def _reachable(url: str) -> bool:
    engine = make_engine(url)
    try:
        check_reachable(engine)
    except TenantctlError:
        return False
    finally:
        engine.dispose()
    return True


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((DEFAULT_HOST, port)) == 0


def _ensure_database(port: int) -> None:
    with psycopg.connect(
        host=DEFAULT_HOST, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            connection.execute(f"CREATE DATABASE {quote_identifier(DATABASE)}")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql"], check=True, stdout=sys.stderr
        )
        return _pg_bin(name)
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _local_cluster_port() -> int:
    port_file = PGDATA / "port"
    if not (PGDATA / "PG_VERSION").exists():
        PGDATA.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PGDATA, "postgres", "postgres")
        print(f"devdb: creating a local cluster in {PGDATA}", file=sys.stderr)
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(PGDATA),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            stdout=sys.stderr,
        )
    if port_file.exists() and _listening(int(port_file.read_text())):
        return int(port_file.read_text())
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(PGDATA),
                "-l",
                str(PGDATA / "server.log"),
                "-w",
                "-o",
                f"-p {port} -c listen_addresses={DEFAULT_HOST} -k {PGDATA}",
                "start",
            ]
        ),
        check=True,
        stdout=sys.stderr,
    )
    port_file.write_text(str(port))  # pg_ctl -w has waited until the server accepts connections
    print(
        f"devdb: local PostgreSQL on port {port}; stop it with "
        f"{_pg_bin('pg_ctl')} -D {PGDATA} stop",
        file=sys.stderr,
    )
    return port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((DEFAULT_HOST, 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
