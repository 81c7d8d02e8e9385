"""Remove for good the rows of one tenant that were soft-deleted longer ago than a retention.

Soft delete (``SoftDeleteMixin``) keeps a row so it can be restored; after the retention it
goes. Every soft-deletable tenant table is purged in one transaction of the tenant's own:
all of them or none. The cut-off is the database's clock (``now() - retention``), so app
servers with drifting clocks agree. Rows that point at a purged row follow their foreign
keys (mockups of a purged template are deleted, templates of a purged user lose their
owner), and every deleted row is recorded in the tenant's audit log, with its values.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, delete, func, select

from models import TenantBase  # with every tenant model loaded
from models.mixins import SoftDeleteMixin
from toolkit.actor import current_actor
from toolkit.audit_actor import set_actor
from toolkit.db import connect
from toolkit.errors import InvalidOption, TenantStateError
from toolkit.registry import find_tenant, schema_exists
from toolkit.session import tenant_engine

_RETENTION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed: rows per soft-deletable table, and the cut-off it used."""

    subdomain: str
    database_schema: str
    retention_seconds: int
    cutoff: datetime.datetime
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows removed from all tables (not counting those their foreign keys took along)."""
        return sum(self.deleted.values())


def parse_retention(value: str) -> datetime.timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` as a timedelta; InvalidOption otherwise."""
    match = _RETENTION.match(value)
    if match is None:
        raise InvalidOption(
            f"--older-than {value!r} is not a retention: write a whole number and a unit, "
            "s, m, h, d or w (e.g. 30d)"
        )
    amount, unit = match.groups()
    return datetime.timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])


def soft_deletable_tables() -> list[Table]:
    """Every tenant table with ``deleted_at``, rows that others refer to last."""
    mapped = {
        mapper.local_table
        for mapper in TenantBase.registry.mappers
        if issubclass(mapper.class_, SoftDeleteMixin)
    }
    return [table for table in reversed(TenantBase.metadata.sorted_tables) if table in mapped]


def purge_deleted(engine: Engine, tenant: str, older_than: datetime.timedelta) -> PurgeReport:
    """Hard-delete ``tenant``'s rows soft-deleted more than ``older_than`` ago.

    One transaction for the tenant. The audit log names the acting user (``acting_as``)
    as who deleted them, or the database role. Raises TenantNotFound for an unknown
    tenant, TenantStateError if its schema is missing, InvalidOption for a negative
    retention.
    """
    if older_than < datetime.timedelta(0):
        raise InvalidOption(
            f"retention {older_than} is negative: rows cannot have been deleted in the "
            "future; pass 0 or more (e.g. 30d)"
        )
    with connect(engine) as connection:
        record = find_tenant(connection, tenant)
        if not schema_exists(connection, record.database_schema):
            raise TenantStateError(
                f"tenant {record.subdomain!r} has no schema {record.database_schema!r}: "
                "nothing to purge; check it with `tenantctl doctor`"
            )
    with tenant_engine(engine, record.subdomain).begin() as connection:
        actor = current_actor()
        if actor is not None:
            set_actor(connection, actor)
        cutoff = connection.execute(select(func.now() - older_than)).scalar_one()
        deleted: dict[str, int] = {}
        for table in soft_deletable_tables():
            result = connection.execute(
                delete(table).where(table.c.deleted_at.is_not(None), table.c.deleted_at < cutoff)
            )
            deleted[table.name] = result.rowcount
    return PurgeReport(
        subdomain=record.subdomain,
        database_schema=record.database_schema,
        retention_seconds=int(older_than.total_seconds()),
        cutoff=cutoff,
        deleted=deleted,
    )
