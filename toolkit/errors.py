"""Typed exceptions of the toolkit. Every message says what went wrong, for which input, and
what to do about it; the CLI prints it as one line and exits non-zero."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class TenantctlError(Exception):
    """Base of every error the toolkit raises on purpose."""


class ConfigurationError(TenantctlError):
    """Settings are missing or invalid (for example no database URL)."""


class InvalidOption(ConfigurationError):
    """A command option or ``-x`` argument has a value that cannot be used."""


class InvalidSetting(ConfigurationError):
    """A setting (environment variable or global flag) cannot be parsed or is out of range."""


class InvalidSubdomain(TenantctlError, ValueError):
    """A subdomain or schema name fails validation; raised before any SQL is sent."""


class NoTenantInScope(TenantctlError, LookupError):
    """Work that needs a tenant's schema ran with no tenant in scope; raised before any SQL."""


class TenantScopeChanged(TenantctlError):
    """The tenant in scope is not the one a session's open transaction is bound to."""


class NoTransactionOpen(TenantctlError):
    """A transaction-local setting was asked for where no transaction is open."""


class TenantExists(TenantctlError):
    """A tenant (or a schema of the same name) already exists."""


class TenantNotFound(TenantctlError):
    """No ``core.tenants`` row matches the given subdomain or schema."""


class TenantUnavailable(TenantctlError):
    """A request's tenant cannot be served; ``http_status`` is the answer to give.

    Messages are fixed texts that repeat none of the request's input, so an answer never
    tells a caller whether some other tenant exists.
    """

    http_status = 404
    code = "tenant_not_found"


class TenantNotResolved(TenantUnavailable):
    """No tenant answers at this host (unknown, invalid, or not provisioned yet): 404."""


class TenantSuspended(TenantUnavailable):
    """The request's tenant is suspended: 403."""

    http_status = 403
    code = "tenant_suspended"


class TenantArchived(TenantUnavailable):
    """The request's tenant is archived: 410."""

    http_status = 410
    code = "tenant_archived"


class TenantStateError(TenantctlError):
    """A lifecycle step does not apply to the tenant's status (e.g. resuming an active one)."""


class InvalidActor(TenantctlError, ValueError):
    """An actor for ``acting_as`` (who the audit records) is blank, too long or not text."""


class ClientToolMissing(ConfigurationError):
    """A PostgreSQL client program (pg_dump, pg_restore, psql) is not installed."""


class ClientToolFailed(TenantctlError):
    """A PostgreSQL client program exited with an error; the message carries its stderr."""


class SeedFailed(TenantctlError):
    """Loading a sample tenant's rows failed; the tenant was dropped again."""


class DatabaseUnreachable(TenantctlError):
    """The database cannot be reached; the message names the URL with its password masked."""


class SchemaNotReady(TenantctlError):
    """Schema ``core`` is missing or behind head, so tenant work cannot start."""


class DatabaseIsolationError(TenantctlError):
    """Tenant roles or row-level security cannot be applied or used as asked (a missing
    privilege, a role name taken by someone else, no transaction for a ``SET LOCAL``)."""


class RevisionTargetError(TenantctlError):
    """A revision argument does not say which branch (core or tenant) it addresses."""


class LockBusy(TenantctlError):
    """Another migration run holds the rollout lock and did not release it in time."""


class LockLost(TenantctlError):
    """The session holding the rollout lock ended during the run, so the run stopped."""


class PlanOutdated(TenantctlError):
    """A tenant's revision changed between planning and migrating it; nothing was applied."""


class RunNotFound(TenantctlError):
    """No journaled migration run has the given id."""


class BackupError(TenantctlError):
    """A tenant backup, restore or clone failed; nothing was registered and no file was left."""


class BackupInvalid(BackupError):
    """A backup file cannot be restored: unreadable, truncated, corrupt or of an unknown format.

    Raised while the file is checked, before anything in the database changes.
    """


class BackupTooNew(BackupInvalid):
    """A backup holds a tenant revision this code's Alembic tree does not know (a newer head)."""


class CredentialError(TenantctlError):
    """An API key, password or session token was refused; the message never repeats it."""


class InvalidApiKey(CredentialError):
    """An API key is malformed, unknown, wrong, revoked or expired (401).

    Unknown ids, wrong secrets, revoked and expired keys share one message, so a caller
    cannot tell which keys exist.
    """


class ApiKeyScopeDenied(CredentialError):
    """A valid API key lacks the scope a request needs (403, not 401)."""


class ApiKeyNotFound(TenantctlError):
    """No API key of the given tenant has the given key id (managing keys, not verifying)."""


class ApiKeyStateError(TenantctlError):
    """A key operation does not apply to the key's state (e.g. rotating a revoked key)."""


class InvalidCredentials(CredentialError):
    """Login refused: unknown tenant or email, or wrong password (one message for all)."""


class AccountDisabled(CredentialError):
    """Login refused after a correct password: the admin or its tenant is not active."""


class InvalidSession(CredentialError):
    """A session token is malformed, unknown, revoked or expired (idle or absolute)."""


class InvalidUsage(TenantctlError, ValueError):
    """A usage metric, quantity, period or limit name is unknown or out of range; no SQL sent."""


class QuotaExceeded(TenantctlError):
    """Creating data would take a tenant past one of its plan's limits; nothing was written.

    ``limit`` names the limit (``max_users``, ``mockups_per_month``, ...), ``current`` is the
    use before this change, ``requested`` what the change adds and ``allowed`` the limit.
    """

    http_status = 402
    code = "quota_exceeded"

    def __init__(
        self, *, tenant: str, limit: str, current: int, requested: int, allowed: int, plan: str
    ) -> None:
        self.tenant = tenant
        self.limit = limit
        self.current = current
        self.requested = requested
        self.allowed = allowed
        self.plan = plan
        super().__init__(
            f"tenant {tenant!r} would exceed its limit {limit}: {current} in use, "
            f"{requested} more requested, {allowed} allowed (plan {plan!r}); remove some, "
            f"upgrade the plan, or raise the limit with "
            f"`tenantctl usage limits {tenant} --set {limit}=N`"
        )

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Keyword-only fields: rebuilt by keyword, so the error survives pickling (a worker
        # process handing it back to its parent).
        fields = ("tenant", "limit", "current", "requested", "allowed", "plan")
        return (functools.partial(type(self), **{name: getattr(self, name) for name in fields}), ())


class PasswordHashInvalid(TenantctlError, ValueError):
    """A stored password hash is not an argon2 hash: a data problem, not a wrong password."""


@dataclass(frozen=True)
class TenantFailure:
    """One tenant whose migration failed and was rolled back."""

    schema: str
    error: str


class MigrationFailed(TenantctlError):
    """Core or at least one tenant failed to migrate; each failed tenant was rolled back alone.

    ``stopped_early`` means the run was aborted (fail-fast or a failed canary), so some
    tenants were never started; otherwise every selected tenant was attempted.
    """

    def __init__(
        self,
        failures: Sequence[TenantFailure],
        *,
        stopped_early: bool,
        run_id: int | None = None,
    ) -> None:
        self.failures = tuple(failures)
        self.stopped_early = stopped_early
        self.run_id = run_id
        shown = self.failures[:5]
        named = "; ".join(f"{failure.schema}: {failure.error}" for failure in shown)
        if len(self.failures) > len(shown):
            named += f"; and {len(self.failures) - len(shown)} more"
        tail = (
            "the run was aborted with tenants not started (after a failure under fail-fast, "
            "a failed canary, or a failed core)"
            if stopped_early
            else "the other tenants were migrated"
        )
        again = f"`tenantctl migrate resume {run_id}`" if run_id is not None else "the same command"
        super().__init__(
            f"{len(self.failures)} schema(s) failed and were rolled back ({named}); {tail}. "
            f"Fix the cause and run {again}: tenants already migrated are skipped."
        )


def one_line(exc: BaseException) -> str:
    """``ErrorType: first line of the message``, using the driver's error when there is one."""
    cause = getattr(exc, "orig", None) or exc
    text_ = str(cause).strip()
    first = text_.splitlines()[0] if text_ else type(cause).__name__
    return f"{type(cause).__name__}: {first}"
