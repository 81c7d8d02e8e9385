"""Run tenant tasks in this process or in worker processes, and stream their outcomes back.

Alembic keeps module-level state and is not thread-safe, so parallelism is by processes.
The runner itself migrates tenants too; each further worker is ``python -m
toolkit.migrations.worker``: a fresh interpreter that imports only the toolkit (never the
caller's ``__main__``). It receives the plan once, keeps one connection, and migrates the
chunks of tenants it is sent over a pipe (``worker_process`` starts them and talks to
them). Fail-fast is a signal: after it no tenant starts, and the ones in flight finish.
Workers die with their parent (PR_SET_PDEATHSIG), so a killed run leaves no process behind
to touch the database.
"""

from __future__ import annotations

import heapq
import itertools
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from toolkit.migrations.apply import TenantMigrator, TenantTask, WorkerPlan
from toolkit.migrations.events import SchemaOutcome
from toolkit.migrations.worker_process import WorkerProcess, adopt_prestarted

_CHUNK_MAX = 25


def run_tasks(
    migrator: TenantMigrator,
    pool: WorkerPool,
    tasks: Sequence[TenantTask],
    *,
    fail_fast: bool,
    before_chunk: Callable[[], None] | None = None,
) -> Iterator[SchemaOutcome]:
    """Migrate ``tasks`` here (through ``migrator``) and in ``pool``'s worker processes;
    each tenant's final outcome is yielded as it arrives.

    This process starts on the first tenant at once, while workers may still boot. A
    tenant that hit a lock timeout goes back in the queue after its backoff while the
    others go on. With ``fail_fast``, no tenant starts after the first failure; those in
    flight finish. ``before_chunk`` runs before any chunk is handed out (the runner checks
    that it still holds its lock); if it raises, the error propagates and the caller closes
    the pool.
    """
    queue = _ChunkQueue(tasks, processes=1 + len(pool.workers))
    by_schema = {task.schema: task for task in tasks}
    retries: list[tuple[float, int, TenantTask]] = []  # (due, order, task), a heap
    order = itertools.count()
    local: deque[TenantTask] = deque()
    while True:
        while retries and retries[0][0] <= time.monotonic():
            queue.append(heapq.heappop(retries)[2])
        if not local and queue:  # this process takes its chunk first, then tops workers up
            if before_chunk is not None:
                before_chunk()
            local.extend(queue.take())
        pool.feed(queue, before_chunk)
        if local:
            arrived = [migrator.migrate(local.popleft()), *pool.collect(timeout=0)]
        elif pool.busy or retries:
            # Until a worker's chunk finishes or the next retry is due, whichever is first.
            wait = max(0.0, retries[0][0] - time.monotonic()) if retries else None
            arrived = pool.collect(timeout=wait)
        else:
            return
        for outcome in arrived:
            if outcome.retry_in is None:
                yield outcome
                continue
            again = replace(by_schema[outcome.schema], attempt=outcome.attempts + 1)
            by_schema[outcome.schema] = again
            due = time.monotonic() + outcome.retry_in
            heapq.heappush(retries, (due, next(order), again))
        if fail_fast and any(not outcome.ok and outcome.retry_in is None for outcome in arrived):
            queue.clear()
            local.clear()
            retries.clear()
            pool.interrupt()


class _ChunkQueue:
    """The tenants not yet handed out, given out in chunks that shrink as the run nears its
    end (a share of what is left, at most _CHUNK_MAX): large chunks keep the pipe traffic
    low, small ones at the end keep one process from finishing a long chunk alone."""

    def __init__(self, tasks: Sequence[TenantTask], *, processes: int) -> None:
        self._pending = deque(tasks)
        self._processes = processes

    def __bool__(self) -> bool:
        return bool(self._pending)

    def append(self, task: TenantTask) -> None:
        """Queue a tenant again (a retry after a lock timeout)."""
        self._pending.append(task)

    def take(self) -> list[TenantTask]:
        """The next chunk (empty once nothing is left)."""
        size = max(1, min(_CHUNK_MAX, len(self._pending) // (self._processes * 4)))
        return [self._pending.popleft() for _ in range(min(size, len(self._pending)))]

    def clear(self) -> None:
        """Hand out nothing more (fail-fast)."""
        self._pending.clear()


class WorkerPool:
    """The worker processes of one run, started before the run plans so that they boot
    meanwhile; they receive the plan once it exists (``load``), then chunks of tenants."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers
        self.selector = selectors.DefaultSelector()
        for worker in workers:
            self.selector.register(worker.output, selectors.EVENT_READ, worker)
        self._loaded = False

    @classmethod
    def spawn(cls, count: int) -> WorkerPool:
        """``count`` worker processes (none: a pool that runs nothing): those this process
        started early (``worker_process.prestart``), then new ones."""
        workers = adopt_prestarted(count)
        return cls(workers + [WorkerProcess.spawn() for _ in range(count - len(workers))])

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def load(self, plan: WorkerPlan, fail_fast: bool) -> None:
        """Send every worker the plan (once per run)."""
        if not self._loaded:
            for worker in self.workers:
                worker.write((plan, fail_fast))
            self._loaded = True

    @property
    def busy(self) -> bool:
        """True while some worker holds a chunk."""
        return any(worker.busy for worker in self.workers)

    def feed(self, queue: _ChunkQueue, before_chunk: Callable[[], None] | None) -> None:
        """Top each worker up to CHUNKS_AHEAD chunks, if any are left (after ``before_chunk``)."""
        for worker in self.workers:
            while worker.wants_chunk and queue:
                if before_chunk is not None:
                    before_chunk()
                worker.send(queue.take())

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
        """Let idle workers exit; kill any still holding a chunk (its tenant rolls back),
        and any that never got a plan (they have done nothing, and may still be booting)."""
        self.selector.close()
        for worker in self.workers:
            worker.close(kill=not self._loaded)
