"""A worker process of a rollout: ``python -m toolkit.migrations.worker PARENT_PID``.

It reads its plan, then chunks of tenants, from stdin and writes each chunk's outcomes to
stdout (see ``worker_process``). After STOP_SIGNAL it starts no further tenant.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from types import FrameType
from typing import Any

from toolkit.errors import TenantctlError
from toolkit.logging_setup import bind_run_id, configure_logging
from toolkit.migrations.apply import TenantMigrator, WorkerPlan
from toolkit.migrations.events import SchemaOutcome
from toolkit.migrations.worker_process import STOP_SIGNAL, read_message, write_message
from toolkit.process_exit import exit_now

_PR_SET_PDEATHSIG = 1


class _StopFlag:
    """Set by STOP_SIGNAL from the runner, or by this worker's own failure under fail-fast."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        self.is_set = True


def main(parent_pid: int) -> int:
    """Serve chunks until the runner closes stdin."""
    _die_with_parent(parent_pid)
    # The message pipe is a private copy of stdout; anything else printing (a revision run
    # through Alembic, say) goes to stderr and cannot corrupt the framing.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stop = _StopFlag()
    signal.signal(STOP_SIGNAL, stop.set)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {STOP_SIGNAL})  # blocked by the runner
    loaded = _next_message()
    if loaded is None:  # the run had nothing for its workers to do
        return 0
    plan: WorkerPlan
    plan, fail_fast = loaded
    _adopt_run(plan)
    migrator = TenantMigrator(plan)
    try:
        while (chunk := _next_message()) is not None:
            outcomes: list[SchemaOutcome] = []
            for task in chunk:
                if stop.is_set:
                    break
                outcome = migrator.migrate(task)
                outcomes.append(outcome)
                if fail_fast and not outcome.ok and outcome.retry_in is None:
                    stop.set()
            write_message(channel, outcomes)
    finally:
        migrator.close()
    return 0


def _adopt_run(plan: WorkerPlan) -> None:
    """Log like the runner does (same format and level) and under the run's id.

    The worker's stderr is the runner's, so its lines join the runner's stream. The id
    stays bound for the life of the process: a worker serves one run.
    """
    if plan.log_config is not None:
        configure_logging(plan.log_config.format, plan.log_config.level)
    bind_run_id(plan.run_id)


def _next_message() -> Any:
    """The next message from the runner; None once it has closed the pipe (run over)."""
    try:
        return read_message(sys.stdin.buffer)
    except TenantctlError:
        return None


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the worker then exits when its stdin closes
    if os.getppid() != parent_pid:
        raise SystemExit(1)


if __name__ == "__main__":
    exit_now(main(int(sys.argv[1])))
