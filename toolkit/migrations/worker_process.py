"""Worker processes of a rollout, seen from the runner: start them, talk to them, stop them.

A worker is ``python -m toolkit.migrations.worker PARENT_PID``: a fresh interpreter that
imports only the toolkit (never the caller's ``__main__``). Messages both ways are
length-prefixed pickles on its stdin and stdout. This module imports nothing heavy, so that
``tenantctl migrate up --workers N`` can start its workers (``prestart``) before it imports
the migration machinery itself: they boot while the runner does, instead of after it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from toolkit.errors import TenantctlError

if TYPE_CHECKING:
    from toolkit.migrations.apply import TenantTask
    from toolkit.migrations.events import SchemaOutcome

STOP_SIGNAL = signal.SIGUSR1
# Chunks a worker may hold at once: the one it migrates and the next, so that it has work
# while the runner is busy with a tenant of its own (a lock wait can last lock_timeout).
CHUNKS_AHEAD = 2
_HEADER = struct.Struct("!I")
# Started by ``prestart``, not yet taken by a run's pool.
_prestarted: list[WorkerProcess] = []


def prestart(count: int) -> None:
    """Start ``count`` workers now, for the next pool of this process to adopt.

    One that no pool adopts exits when this process does (its stdin closes, and it dies
    with its parent anyway), having done nothing.
    """
    _prestarted.extend(WorkerProcess.spawn() for _ in range(count))


def adopt_prestarted(count: int) -> list[WorkerProcess]:
    """Up to ``count`` workers ``prestart`` started, still alive; they are this caller's now."""
    adopted: list[WorkerProcess] = []
    while _prestarted and len(adopted) < count:
        worker = _prestarted.pop(0)
        if worker.process.poll() is None:
            adopted.append(worker)
        else:  # it died while booting: reap it and start another instead
            worker.close()
    return adopted


@dataclass
class WorkerProcess:
    """One worker process and its pipes, and how many chunks it holds (sent, not answered)."""

    process: subprocess.Popen[bytes]
    chunks_held: int = 0

    @classmethod
    def spawn(cls) -> WorkerProcess:
        # The worker starts with STOP_SIGNAL blocked and unblocks it once its handler is in
        # place: a stop sent while it boots waits instead of killing it.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {STOP_SIGNAL})
        try:
            process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [sys.executable, "-m", "toolkit.migrations.worker", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Its own session: Ctrl-C reaches the runner, which stops the workers.
                start_new_session=True,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return cls(process)

    @property
    def output(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def busy(self) -> bool:
        """True while the worker holds a chunk."""
        return self.chunks_held > 0

    @property
    def wants_chunk(self) -> bool:
        """True while the worker holds fewer than CHUNKS_AHEAD chunks."""
        return self.chunks_held < CHUNKS_AHEAD

    def send(self, chunk: list[TenantTask]) -> None:
        """Hand the worker a chunk to migrate (after those it holds)."""
        self.write(chunk)
        self.chunks_held += 1

    def receive(self) -> list[SchemaOutcome]:
        """The outcomes of its oldest chunk; TenantctlError if the worker died.

        Read straight from the pipe, never through a buffer: the runner waits for replies
        with ``select`` on the pipe, which cannot see a second reply sitting in a buffer.
        """
        fd = self.output.fileno()
        outcomes: list[SchemaOutcome] = _decode(lambda size: _read_unbuffered(fd, size))
        self.chunks_held -= 1
        return outcomes

    def interrupt(self) -> None:
        """Fail-fast: start no further tenant (the one in flight finishes)."""
        if self.process.poll() is None:
            self.process.send_signal(STOP_SIGNAL)

    def close(self, *, kill: bool = False) -> None:
        """Let an idle worker exit (its stdin closes); kill one still holding a chunk."""
        if self.process.poll() is None and (self.busy or kill):
            self.process.kill()
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        self.process.wait()

    def write(self, message: Any) -> None:
        """Send one message (the plan, or a chunk)."""
        assert self.process.stdin is not None
        try:
            write_message(self.process.stdin, message)
        except OSError:
            raise _died() from None


def write_message(stream: IO[bytes], message: Any) -> None:
    """One length-prefixed pickle on a pipe between the runner and its own workers."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _died() -> TenantctlError:
    return TenantctlError(
        "a migration worker process died; see its error output above. Tenants it finished "
        "are journaled: `tenantctl migrate up --retry-failed` goes on"
    )


def read_message(stream: IO[bytes]) -> Any:
    """The next message written by ``write_message``; TenantctlError if the pipe closed."""
    return _decode(stream.read)


def _decode(read: Callable[[int], bytes]) -> Any:
    header = read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise _died()
    (size,) = _HEADER.unpack(header)
    payload = read(size)
    if len(payload) < size:
        raise _died()
    # Only our own processes write to these pipes (the runner and the workers it started).
    return pickle.loads(payload)  # noqa: S301


def _read_unbuffered(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd`` (fewer only at the end of the stream)."""
    parts: list[bytes] = []
    while size:
        part = os.read(fd, size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
