"""Run PostgreSQL's own client programs (pg_dump, pg_restore, psql) against a database URL.

Connection parameters come from the SQLAlchemy URL; a password travels in ``PGPASSWORD``,
never on a command line that ``ps`` would show.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import URL

from toolkit.db import mask_url, parse_url
from toolkit.errors import ClientToolFailed, ClientToolMissing


def client_program(name: str) -> str:
    """The path of PostgreSQL client program ``name``: on PATH, else the newest Debian one."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise ClientToolMissing(
        f"{name} is not installed: it comes with the PostgreSQL client programs "
        "(apt-get install -y postgresql-client)"
    )


def connection_arguments(url: str | URL) -> tuple[list[str], dict[str, str]]:
    """Command-line options and environment that point a client program at ``url``."""
    parsed = parse_url(url)
    arguments: list[str] = []
    for option, value in (
        ("--host", parsed.host),
        ("--port", parsed.port),
        ("--username", parsed.username),
        ("--dbname", parsed.database),
    ):
        if value is not None:
            arguments.append(f"{option}={value}")
    environment = {**os.environ}
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    return arguments, environment


def run_client(name: str, url: str | URL, arguments: Sequence[str]) -> str:
    """Run client program ``name`` on ``url`` with ``arguments``; its stdout, as text.

    Raises ClientToolFailed with the program's error output if it exits non-zero.
    """
    connection, environment = connection_arguments(url)
    completed = subprocess.run(  # noqa: S603  (a PostgreSQL client program, arguments as a list)
        [client_program(name), *connection, *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ClientToolFailed(
            f"{name} failed on {mask_url(url)} (exit {completed.returncode}): "
            f"{completed.stderr.strip() or 'no error output'}"
        )
    return completed.stdout
