"""Exit codes shared by ``tenantctl`` and ``alembic`` (through env.py), and the error -> code map.

0 done; 1 error; 2 invalid input or usage; 3 a check found a problem (``migrate status``: something
is behind head; ``migrate verify``: a revision file changed; ``usage anomalies``: a tenant was
flagged); 4 some tenants failed, the others were migrated; 5 the run was aborted (fail-fast, a
failed canary or a failed core) with tenants not started; 6 another run holds the migration
lock, or an earlier run's session is still busy in the server.
"""

from __future__ import annotations

from toolkit.errors import (
    BackupInvalid,
    InvalidActor,
    InvalidOption,
    InvalidSetting,
    InvalidSubdomain,
    InvalidUsage,
    LockBusy,
    MigrationFailed,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHECK_FAILED = 3
EXIT_TENANTS_FAILED = 4
EXIT_ABORTED = 5
EXIT_LOCKED = 6


def exit_code_for(error: Exception) -> int:
    """The exit code a command ends with after ``error``."""
    if isinstance(
        error,
        InvalidSubdomain
        | InvalidOption
        | InvalidSetting
        | InvalidActor
        | InvalidUsage
        | BackupInvalid,
    ):
        return EXIT_USAGE
    if isinstance(error, LockBusy):
        return EXIT_LOCKED
    if isinstance(error, MigrationFailed):
        return EXIT_ABORTED if error.stopped_early else EXIT_TENANTS_FAILED
    return EXIT_ERROR
