"""Replay a ``pg_dump`` archive into a schema of another name: pg_restore | rename | psql.

``pg_restore`` cannot rename a schema, and the original schema may still exist (``restore
--as``, ``clone``). So its SQL output is streamed through :class:`SchemaRenamer`, which
rewrites the schema identifier in statements only, never inside ``COPY`` data, and into
``psql`` running the whole script as one transaction: it commits completely or not at all.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL

from toolkit.db import mask_url
from toolkit.errors import ClientToolFailed
from toolkit.pg_client import client_program, connection_arguments

_END_OF_COPY = (b"\\.\n", b"\\.\r\n", b"\\.")


class SchemaRenamer:
    """Rewrites one schema name to another in SQL script lines, leaving COPY data untouched.

    A name matches only as a whole identifier (``tenant_acme`` is not touched inside
    ``tenant_acme_shop``). Tenant schema names never need double quotes, so pg_dump writes
    them bare; the quoted form is matched too.
    """

    def __init__(self, old: str, new: str) -> None:
        self._pattern = re.compile(rb"(?<![\w$])" + re.escape(old.encode()) + rb"(?![\w$])")
        self._new = new.encode()
        self._in_copy = False

    def line(self, raw: bytes) -> bytes:
        """``raw`` with the schema renamed, unless it is a row of a COPY block."""
        if self._in_copy:
            if raw in _END_OF_COPY:
                self._in_copy = False
            return raw
        if raw.startswith(b"COPY ") and raw.rstrip().endswith(b"FROM stdin;"):
            self._in_copy = True
        return self._pattern.sub(self._new, raw)

    def lines(self, raws: Iterable[bytes]) -> Iterable[bytes]:
        """Every line of ``raws``, rewritten."""
        return (self.line(raw) for raw in raws)


def list_archive(dump: Path) -> str:
    """``pg_restore --list`` of ``dump``: its table of contents, which proves it is readable."""
    completed = subprocess.run(  # noqa: S603  (a PostgreSQL client program, arguments as a list)
        [client_program("pg_restore"), "--list", str(dump)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ClientToolFailed(
            f"pg_restore cannot read {dump} (exit {completed.returncode}): "
            f"{completed.stderr.strip() or 'no error output'}"
        )
    return completed.stdout


def restore_renamed(url: URL, dump: Path, old_schema: str, new_schema: str) -> None:
    """Create schema ``new_schema`` from ``dump`` (a custom-format dump of ``old_schema``).

    Owners are not restored (``--no-owner``): the connecting role owns the result, as it owns
    schemas made by ``tenantctl tenant create``. Raises ClientToolFailed with the error
    output of whichever program failed; psql's single transaction leaves nothing behind then.
    """
    connection, environment = connection_arguments(url)
    environment["PGAPPNAME"] = "tenantctl restore"
    restore_command = [client_program("pg_restore"), "--no-owner", "--file=-", str(dump)]
    psql_command = [
        client_program("psql"),
        *connection,
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--single-transaction",
        "--file=-",
    ]
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        producer = subprocess.Popen(  # noqa: S603  (a PostgreSQL client program)
            restore_command, stdout=subprocess.PIPE, stderr=restore_errors
        )
        consumer = subprocess.Popen(  # noqa: S603  (a PostgreSQL client program)
            psql_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env=environment,
        )
        assert producer.stdout is not None  # both are pipes: narrows the types
        assert consumer.stdin is not None
        try:
            _pump(producer.stdout, consumer.stdin, SchemaRenamer(old_schema, new_schema))
        except BrokenPipeError:
            producer.kill()  # psql stopped reading: its error output says why
        producer.stdout.close()
        restored = producer.wait()
        if restored != 0:
            # A partial script must not be committed: psql commits its single transaction
            # at end of input, so end it by killing it, and the server rolls back.
            consumer.kill()
        with contextlib.suppress(BrokenPipeError):
            consumer.stdin.close()
        replayed = consumer.wait()
        if restored != 0 and replayed in (0, -signal.SIGKILL):
            raise _failed("pg_restore", restored, restore_errors, url)
        if replayed != 0:
            raise _failed("psql", replayed, psql_errors, url)


def _pump(source: IO[bytes], sink: IO[bytes], renamer: SchemaRenamer) -> None:
    for line in renamer.lines(source):
        sink.write(line)


def _failed(program: str, code: int, errors: IO[bytes], url: URL) -> ClientToolFailed:
    errors.seek(0)
    output = errors.read().decode(errors="replace").strip()
    lines = [line for line in output.splitlines() if line.strip()]
    shown = " / ".join(lines[-3:]) or "no error output"
    return ClientToolFailed(
        f"{program} failed while restoring into {mask_url(url)} (exit {code}): {shown}; "
        "nothing was registered"
    )
