"""Loading the sample tenants: create each missing one, fill it, drop it again if that fails."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from models import Tenant
from toolkit.db import connect
from toolkit.errors import SeedFailed, TenantExists, one_line
from toolkit.lifecycle import drop_tenant
from toolkit.provisioning import create_tenant
from toolkit.registry import require_registry
from toolkit.seed.rows import load_rows
from toolkit.seed.samples import DEMO_PASSWORD, SAMPLE_TENANTS, SampleTenant
from toolkit.session import tenant_session


class SeedOutcome(enum.StrEnum):
    """What ``seed_sample_data`` did with one sample tenant."""

    CREATED = "created"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SeededTenant:
    """One sample tenant in a seed report.

    ``rows`` counts the rows loaded per table (``core.<table>`` for core tables, the bare
    name for tenant tables). ``api_key`` is the plain key, returned only when the tenant was
    created (it is stored as a hash and cannot be shown again); skipped tenants carry no
    rows, no key and no admin emails.
    """

    subdomain: str
    database_schema: str
    company_name: str
    plan: str
    outcome: SeedOutcome
    rows: dict[str, int] = field(default_factory=dict)
    admin_emails: tuple[str, ...] = ()
    api_key: str | None = None


@dataclass(frozen=True)
class SeedReport:
    """What a seed run did, tenant by tenant, in the order of ``SAMPLE_TENANTS``."""

    tenants: tuple[SeededTenant, ...]
    admin_password: str = DEMO_PASSWORD

    @property
    def created(self) -> tuple[SeededTenant, ...]:
        """The tenants this run created and loaded."""
        return tuple(t for t in self.tenants if t.outcome is SeedOutcome.CREATED)

    @property
    def skipped(self) -> tuple[SeededTenant, ...]:
        """The tenants that already existed and were left alone."""
        return tuple(t for t in self.tenants if t.outcome is SeedOutcome.SKIPPED)


def seed_sample_data(
    engine: Engine,
    *,
    now: datetime.datetime | None = None,
    tenants: Sequence[SampleTenant] = SAMPLE_TENANTS,
) -> SeedReport:
    """Create and load the sample tenants that do not exist yet; skip the others.

    Core must be at head (``tenantctl migrate up``), as for ``create_tenant``. ``now``
    anchors every sample timestamp (default: the current time, in UTC). Returns the report
    with, for each created tenant, the rows loaded, the admin emails and the plain API key,
    which exists nowhere else.

    The content is fixed and every timestamp is relative to ``now``, so two runs load the
    same rows; only password salts and API keys are random, as they must be. Running it
    again loads nothing new: a sample tenant that already exists is skipped and reported as
    such. Each new tenant's rows are written in one transaction through a session bound to
    its schema; if that transaction fails, the tenant just created is dropped again, so the
    next run starts that tenant afresh.
    """
    anchor = now or datetime.datetime.now(datetime.UTC)
    if anchor.tzinfo is None:
        raise ValueError("seed_sample_data: `now` must be timezone-aware, e.g. in datetime.UTC")
    with connect(engine) as connection:
        require_registry(connection)  # SchemaNotReady, saying to migrate first
    return SeedReport(tenants=tuple(_seed_one(engine, sample, anchor) for sample in tenants))


def _seed_one(engine: Engine, sample: SampleTenant, now: datetime.datetime) -> SeededTenant:
    """Create one sample tenant and load its rows, or skip it if it is already registered."""
    if _is_registered(engine, sample.subdomain):
        return _skipped(engine, sample)
    try:
        record = create_tenant(
            engine, sample.subdomain, company_name=sample.company_name, plan=sample.plan
        )
    except TenantExists:
        if _is_registered(engine, sample.subdomain):  # another run created it meanwhile
            return _skipped(engine, sample)
        raise  # a stray schema without a tenant: the message says how to fix it
    try:
        with tenant_session(engine, sample.subdomain) as session, session.begin():
            rows, api_key = load_rows(session, sample, now)
    except BaseException as error:
        what_now = _drop_after_failure(engine, sample.subdomain)
        if isinstance(error, SQLAlchemyError):
            raise SeedFailed(
                f"loading the sample rows of tenant {sample.subdomain!r} failed "
                f"({one_line(error)}); {what_now}"
            ) from error
        error.add_note(what_now)
        raise
    return SeededTenant(
        subdomain=record.subdomain,
        database_schema=record.database_schema,
        company_name=record.company_name,
        plan=record.plan,
        outcome=SeedOutcome.CREATED,
        rows=rows,
        admin_emails=tuple(sample.email(admin) for admin in sample.admins),
        api_key=api_key,
    )


def _drop_after_failure(engine: Engine, subdomain: str) -> str:
    """Drop a tenant whose rows failed to load, so that the next run creates it afresh.

    Returns what the user should do now, for the error message.
    """
    try:
        drop_tenant(engine, subdomain, backup=False)
    except Exception as cleanup:  # keep the first error; say what is left behind
        return (
            f"dropping the half-seeded tenant failed too ({one_line(cleanup)}): drop it "
            f"with `tenantctl tenant drop {subdomain} --yes`, then run `tenantctl seed` again"
        )
    return "the tenant was dropped again: fix the cause and run `tenantctl seed` again"


def _is_registered(engine: Engine, subdomain: str) -> bool:
    with connect(engine) as connection:
        found = connection.execute(select(Tenant.id).where(Tenant.subdomain == subdomain))
        return found.first() is not None


def _skipped(engine: Engine, sample: SampleTenant) -> SeededTenant:
    with connect(engine) as connection:
        row = connection.execute(
            select(Tenant.database_schema, Tenant.company_name, Tenant.plan).where(
                Tenant.subdomain == sample.subdomain
            )
        ).one()
    return SeededTenant(
        subdomain=sample.subdomain,
        database_schema=row.database_schema,
        company_name=row.company_name,
        plan=row.plan,
        outcome=SeedOutcome.SKIPPED,
    )
