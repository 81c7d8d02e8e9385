"""Start a rollout's worker processes before the migration machinery is imported.

``tenantctl migrate up|down --workers N`` migrates with this process plus N-1 worker
processes, each a new interpreter that takes about as long to boot as this process takes to
import the migration modules (a third of a second here). Started first thing, from the raw
command line, they boot alongside instead of after it, and the run's pool adopts them
(``worker_process.adopt_prestarted``). A wrong guess costs nothing: a worker no pool adopts
(a dry run, a bad option, a run with nothing to do) exits with this process, having done
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.errors import TenantctlError
from toolkit.migrations import worker_process
from toolkit.settings import Settings

ROLLOUTS = ("up", "down")
_NOT_A_RUN = ("--dry-run", "--help")


def prestart_rollout_workers(arguments: Sequence[str]) -> None:
    """Start the worker processes the ``migrate`` arguments (after ``migrate``) will need."""
    if not arguments or arguments[0] not in ROLLOUTS or any(a in _NOT_A_RUN for a in arguments):
        return
    workers = _requested_workers(arguments)
    if workers is not None and workers > 1:
        worker_process.prestart(workers - 1)


def _requested_workers(arguments: Sequence[str]) -> int | None:
    """``--workers N`` (or ``--workers=N``), else the setting's default; None if unreadable
    (the command itself then reports it)."""
    for position, word in enumerate(arguments):
        value = None
        if word == "--workers" and position + 1 < len(arguments):
            value = arguments[position + 1]
        elif word.startswith("--workers="):
            value = word.removeprefix("--workers=")
        if value is not None:
            return int(value) if value.isdigit() else None
    try:
        return Settings.from_env(only=("migrate_workers",)).migrate_workers
    except TenantctlError:
        return None
