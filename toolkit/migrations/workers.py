"""Run tenant tasks in this process or in worker processes, and stream their outcomes back.

Alembic keeps module-level state and is not thread-safe, so parallelism is by processes.
Each worker receives the plan once when it starts, keeps one connection, and migrates
chunks of tenants. A shared stop flag implements fail-fast: no tenant starts after it is
set, and the ones in flight finish. Workers die with their parent (PR_SET_PDEATHSIG), so a
killed run leaves no process behind to touch the database.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from multiprocessing.synchronize import Event

from toolkit.migrations.apply import TenantMigrator, TenantTask, WorkerPlan
from toolkit.migrations.events import SchemaOutcome

_PR_SET_PDEATHSIG = 1
_CHUNK_MAX = 25

# State of a worker process, set once by ``_start_worker``.
_migrator: TenantMigrator | None = None
_stop: Event | None = None
_fail_fast = False


def run_in_process(
    migrator: TenantMigrator, tasks: Sequence[TenantTask], *, fail_fast: bool
) -> Iterator[SchemaOutcome]:
    """Migrate ``tasks`` one by one here; with ``fail_fast``, stop after the first failure."""
    for task in tasks:
        outcome = migrator.migrate(task)
        yield outcome
        if fail_fast and not outcome.ok:
            return


def run_in_workers(
    plan: WorkerPlan, tasks: Sequence[TenantTask], *, workers: int, fail_fast: bool
) -> Iterator[SchemaOutcome]:
    """Migrate ``tasks`` in ``workers`` processes; outcomes arrive as chunks complete."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    chunk_size = max(1, min(_CHUNK_MAX, len(tasks) // (workers * 8)))
    chunks = [tasks[i : i + chunk_size] for i in range(0, len(tasks), chunk_size)]
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(plan, stop, fail_fast, os.getpid()),
    ) as pool:
        pending: set[concurrent.futures.Future[list[SchemaOutcome]]] = set()
        queued = iter(chunks)
        while True:
            while not stop.is_set() and len(pending) < workers * 2:
                chunk = next(queued, None)
                if chunk is None:
                    break
                pending.add(pool.submit(_migrate_chunk, list(chunk)))
            if not pending:
                return
            finished, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                yield from future.result()


def _start_worker(plan: WorkerPlan, stop: Event, fail_fast: bool, parent_pid: int) -> None:
    """Initializer of a worker process: die with the parent, then open the connection."""
    global _migrator, _stop, _fail_fast
    _die_with_parent(parent_pid)
    _migrator = TenantMigrator(plan)
    _stop = stop
    _fail_fast = fail_fast


def _migrate_chunk(tasks: list[TenantTask]) -> list[SchemaOutcome]:
    if _migrator is None or _stop is None:
        raise RuntimeError("worker was not initialised")
    outcomes = []
    for task in tasks:
        if _stop.is_set():
            break
        outcome = _migrator.migrate(task)
        outcomes.append(outcome)
        if _fail_fast and not outcome.ok:
            _stop.set()
    return outcomes


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: workers then exit when their task queue breaks
    if os.getppid() != parent_pid:
        os._exit(1)
