"""Replay a ``pg_dump`` archive into a schema of another name: pg_restore | rename | psql.

``pg_restore`` cannot rename a schema, and the original schema may still exist (``restore
--as``, ``clone``). So its SQL output is streamed through :class:`SchemaRenamer`, which
rewrites the schema identifier in statements only, never inside ``COPY`` data, and into
``psql`` running the whole script as one transaction: it commits completely or not at all.

Only objects of the dumped schema are replayed (``pg_restore --schema``): the script creates
the new schema itself, and never the archive's schema entry or its comment (a schema whose
drop had begun carries a ``tenantctl: dropping`` comment). :func:`foreign_entries` lists
what an archive holds outside its schema, so that a restore can refuse such a file.
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
from toolkit.sql import create_schema

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


def list_archive(dump: Path, *, schema: str | None = None) -> str:
    """``pg_restore --list`` of ``dump``: its table of contents, which proves it is readable.

    With ``schema``, only the entries that ``pg_restore --schema=<schema>`` would restore.
    """
    selection = [f"--schema={schema}"] if schema is not None else []
    completed = subprocess.run(  # noqa: S603  (a PostgreSQL client program, arguments as a list)
        [client_program("pg_restore"), "--list", *selection, str(dump)],
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


def foreign_entries(dump: Path, schema: str) -> list[str]:
    """The entries of ``dump``'s table of contents that are not objects of ``schema``.

    Compares ``pg_restore --list`` with ``pg_restore --list --schema=<schema>``, so that
    "in the schema" means exactly what pg_restore's own filter means. A genuine dump of a
    tenant schema holds besides its objects only the schema's own entry and, if the schema
    has one, its comment; neither is replayed (see :func:`restore_renamed`). Anything else
    (an object in another schema, a grant on a schema, an extension) is returned.
    """
    everything = _toc_entries(list_archive(dump))
    inside = set(_toc_entries(list_archive(dump, schema=schema)))
    own = re.compile(
        r"\d+; \d+ \d+ (?:SCHEMA - |COMMENT - SCHEMA )" + re.escape(schema) + r"(?: \S*)?"
    )
    return [entry for entry in everything if entry not in inside and not own.fullmatch(entry)]


def _toc_entries(listing: str) -> list[str]:
    """The entry lines of a ``pg_restore --list`` output (its ``;`` lines are comments)."""
    return [line for line in listing.splitlines() if line.strip() and not line.startswith(";")]


def _use_list(dump: Path, schema: str, directory: Path) -> Path:
    """A ``--use-list`` file of ``dump``'s entries in ``schema``, minus schema and comment.

    pg_restore's ``--schema`` already leaves out the schema's own entries; the list makes
    that explicit, whatever the client version.
    """
    own = re.compile(r"\d+; \d+ \d+ (?:SCHEMA|COMMENT) \S+ (?:SCHEMA )?" + re.escape(schema) + " ")
    kept = [
        entry
        for entry in _toc_entries(list_archive(dump, schema=schema))
        if not own.match(entry + " ")
    ]
    path = directory / "restore.list"
    path.write_text("".join(f"{entry}\n" for entry in kept))
    return path


def restore_renamed(url: URL, dump: Path, old_schema: str, new_schema: str) -> None:
    """Create schema ``new_schema`` from ``dump`` (a custom-format dump of ``old_schema``).

    Owners are not restored (``--no-owner``): the connecting role owns the result, as it owns
    schemas made by ``tenantctl tenant create``. Only objects of ``old_schema`` are replayed
    (``--schema``); ``new_schema`` is created by the script itself, without the archive's
    comment on the schema. Raises ClientToolFailed with the error output of whichever
    program failed; psql's single transaction leaves nothing behind then.
    """
    connection, environment = connection_arguments(url)
    environment["PGAPPNAME"] = "tenantctl restore"
    with tempfile.TemporaryDirectory(prefix="tenantctl-restore-list-") as work:
        use_list = _use_list(dump, old_schema, Path(work))
        _replay(url, dump, use_list, old_schema, new_schema, connection, environment)


def _replay(
    url: URL,
    dump: Path,
    use_list: Path,
    old_schema: str,
    new_schema: str,
    connection: list[str],
    environment: dict[str, str],
) -> None:
    restore_command = [
        client_program("pg_restore"),
        "--no-owner",
        "--no-privileges",  # a copy must not grant the source tenant's role anything
        f"--schema={old_schema}",
        f"--use-list={use_list}",
        "--file=-",
        str(dump),
    ]
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
            consumer.stdin.write(f"{create_schema(new_schema)};\n".encode())
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
