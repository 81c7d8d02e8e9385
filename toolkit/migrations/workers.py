"""Run tenant tasks in this process or in worker processes, and stream their outcomes back.

Alembic keeps module-level state and is not thread-safe, so parallelism is by processes.
The runner itself migrates tenants too; each further worker is ``python -m
toolkit.migrations.worker``: a fresh interpreter that imports only the toolkit (never the
caller's ``__main__``). It receives the plan once, keeps one connection, and migrates the
chunks of tenants it is sent over a pipe. Fail-fast is a
signal: after it no tenant starts, and the ones in flight finish. Workers die with their
parent (PR_SET_PDEATHSIG), so a killed run leaves no process behind to touch the database.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from toolkit.errors import TenantctlError
from toolkit.migrations.apply import TenantMigrator, TenantTask, WorkerPlan
from toolkit.migrations.events import SchemaOutcome

STOP_SIGNAL = signal.SIGUSR1
_CHUNK_MAX = 25
_HEADER = struct.Struct("!I")


def run_tasks(
    migrator: TenantMigrator,
    plan: WorkerPlan,
    tasks: Sequence[TenantTask],
    *,
    workers: int,
    fail_fast: bool,
    before_chunk: Callable[[], None] | None = None,
) -> Iterator[SchemaOutcome]:
    """Migrate ``tasks`` with ``workers`` processes: this one (through ``migrator``) and
    ``workers - 1`` worker processes; outcomes are yielded as they arrive.

    This process starts on the first tenant at once, while the workers boot. With
    ``fail_fast``, no tenant starts after the first failure; those in flight finish.
    ``before_chunk`` runs before any chunk is handed out (the runner checks that it still
    holds its lock); if it raises, the workers are stopped and the error propagates.
    """
    chunk_size = max(1, min(_CHUNK_MAX, len(tasks) // (workers * 8)))
    queue = deque(list(tasks[i : i + chunk_size]) for i in range(0, len(tasks), chunk_size))
    pool = _Pool.start(plan, fail_fast, workers - 1 if len(tasks) > 1 else 0)
    local: deque[TenantTask] = deque()
    try:
        while True:
            pool.feed(queue, before_chunk)
            if not local and queue:
                if before_chunk is not None:
                    before_chunk()
                local.extend(queue.popleft())
            if local:
                outcome = migrator.migrate(local.popleft())
                arrived = [outcome, *pool.collect(timeout=0)]
            elif pool.busy:
                arrived = pool.collect(timeout=None)
            else:
                return
            yield from arrived
            if fail_fast and any(not outcome.ok for outcome in arrived):
                queue.clear()
                local.clear()
                pool.interrupt()
    finally:
        pool.close()


class _Pool:
    """Worker processes, their pipes, and which of them hold a chunk."""

    def __init__(self, workers: list[_Worker]) -> None:
        self.workers = workers
        self.selector = selectors.DefaultSelector()
        for worker in workers:
            self.selector.register(worker.output, selectors.EVENT_READ, worker)

    @classmethod
    def start(cls, plan: WorkerPlan, fail_fast: bool, count: int) -> _Pool:
        return cls([_Worker.start(plan, fail_fast) for _ in range(count)])

    @property
    def busy(self) -> bool:
        """True while some worker holds a chunk."""
        return any(worker.busy for worker in self.workers)

    def feed(self, queue: deque[list[TenantTask]], before_chunk: Callable[[], None] | None) -> None:
        """Give each idle worker the next chunk, if any (after ``before_chunk``)."""
        for worker in self.workers:
            if not worker.busy and queue:
                if before_chunk is not None:
                    before_chunk()
                worker.send(queue.popleft())

    def collect(self, timeout: float | None) -> list[SchemaOutcome]:
        """Outcomes of the chunks finished within ``timeout`` seconds (None: wait for one)."""
        outcomes: list[SchemaOutcome] = []
        for key, _ in self.selector.select(timeout):
            outcomes.extend(key.data.receive())
        return outcomes

    def interrupt(self) -> None:
        """Fail-fast: no worker starts another tenant."""
        for worker in self.workers:
            worker.interrupt()

    def close(self) -> None:
        self.selector.close()
        for worker in self.workers:
            worker.close()


@dataclass
class _Worker:
    """One worker process and its pipes; ``busy`` while it has a chunk in hand."""

    process: subprocess.Popen[bytes]
    busy: bool = False

    @classmethod
    def start(cls, plan: WorkerPlan, fail_fast: bool) -> _Worker:
        # The worker starts with STOP_SIGNAL blocked and unblocks it once its handler is in
        # place: a stop sent while it boots waits instead of killing it.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {STOP_SIGNAL})
        try:
            process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [sys.executable, "-m", "toolkit.migrations.worker", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        worker = cls(process)
        worker._write((plan, fail_fast))
        return worker

    @property
    def output(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def send(self, chunk: list[TenantTask]) -> None:
        """Hand the worker a chunk to migrate."""
        self._write(chunk)
        self.busy = True

    def receive(self) -> list[SchemaOutcome]:
        """The outcomes of the chunk in hand; TenantctlError if the worker died."""
        outcomes: list[SchemaOutcome] = read_message(self.output)
        self.busy = False
        return outcomes

    def interrupt(self) -> None:
        """Fail-fast: start no further tenant (the one in flight finishes)."""
        if self.process.poll() is None:
            self.process.send_signal(STOP_SIGNAL)

    def close(self) -> None:
        """Let an idle worker exit (its stdin closes); kill one still holding a chunk."""
        if self.process.poll() is None and self.busy:
            self.process.kill()
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        self.process.wait()

    def _write(self, message: Any) -> None:
        assert self.process.stdin is not None
        write_message(self.process.stdin, message)


def write_message(stream: IO[bytes], message: Any) -> None:
    """One length-prefixed pickle on a pipe between the runner and its own workers."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_message(stream: IO[bytes]) -> Any:
    """The next message written by ``write_message``; TenantctlError if the pipe closed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise TenantctlError("a migration worker process died; see its error output above")
    (size,) = _HEADER.unpack(header)
    # Only our own processes write to these pipes (the runner and the workers it started).
    return pickle.loads(stream.read(size))  # noqa: S301
