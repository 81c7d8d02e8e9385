"""Which tenants a run visits: named ones, a ``--where`` filter, a shard, lifecycle status.

By default a run visits tenants that are ``active`` or ``suspended``: a suspended tenant
keeps its data and must be at head when it is resumed. Tenants still ``provisioning`` (their
creation has not committed) and ``archived`` ones are skipped. ``--where status=active``
leaves suspended tenants out; naming tenants with ``--tenants`` visits them whatever their
status.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from models import TenantStatus
from toolkit.errors import InvalidOption
from toolkit.registry import (
    MIGRATED_STATUSES,
    TenantRecord,
    find_tenants,
    list_tenants,
    registry_exists,
)

WHERE_FIELDS: tuple[str, ...] = ("plan", "status")
_STATUSES = frozenset(status.value for status in TenantStatus)


@dataclass(frozen=True)
class Selection:
    """A filter over the registry; the empty selection is every active or suspended tenant."""

    tenants: tuple[str, ...] | None = None
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    shard: tuple[int, int] | None = None
    canary: int | None = None

    def with_tenants(self, text: str) -> Selection:
        """Only the tenants named in ``text``: subdomains or schema names, comma-separated."""
        refs = tuple(ref.strip() for ref in text.split(",") if ref.strip())
        if not refs:
            raise InvalidOption(f"{text!r} names no tenant: use e.g. acme,globex")
        return replace(self, tenants=refs)

    def with_where(self, text: str) -> Selection:
        """Add conditions ``FIELD=VALUE[,VALUE]``, several separated by ``;``.

        For example ``plan=pro`` or ``plan=pro,business;status=active``.
        """
        conditions = list(self.where)
        for condition in filter(None, (part.strip() for part in text.split(";"))):
            name, equals, values_text = condition.partition("=")
            name = name.strip()
            values = tuple(v.strip() for v in values_text.split(",") if v.strip())
            if not equals or name not in WHERE_FIELDS or not values:
                raise InvalidOption(
                    f"invalid where condition {condition!r}: use FIELD=VALUE[,VALUE] with FIELD "
                    f"one of {', '.join(WHERE_FIELDS)}, e.g. plan=pro or status=active,suspended"
                )
            if name == "status" and not set(values) <= _STATUSES:
                raise InvalidOption(
                    f"invalid status in {condition!r}: statuses are {', '.join(sorted(_STATUSES))}"
                )
            conditions.append((name, values))
        if not conditions:
            raise InvalidOption("empty where condition: use e.g. plan=pro")
        return replace(self, where=tuple(conditions))

    def with_shard(self, text: str) -> Selection:
        """Keep shard ``I/N`` (1 <= I <= N): a stable split of tenants by subdomain hash."""
        index_text, slash, count_text = text.partition("/")
        try:
            index, count = int(index_text), int(count_text)
        except ValueError:
            index = count = 0
        if not slash or not 1 <= index <= count:
            raise InvalidOption(
                f"invalid shard {text!r}: use I/N with 1 <= I <= N, e.g. 1/4 on the first of "
                "four machines"
            )
        return replace(self, shard=(index, count))

    def values_of(self, name: str) -> frozenset[str] | None:
        """Allowed values of ``name`` (the intersection of its conditions), None if unfiltered."""
        allowed: frozenset[str] | None = None
        for field_name, values in self.where:
            if field_name == name:
                allowed = frozenset(values) if allowed is None else allowed & frozenset(values)
        return allowed

    def as_json(self) -> dict[str, Any]:
        """The selection as recorded in the journal, and replayed by ``migrate resume``."""
        return {
            "tenants": list(self.tenants) if self.tenants is not None else None,
            "where": {name: list(values) for name, values in self.where},
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "canary": self.canary,
        }


def in_shard(subdomain: str, shard: tuple[int, int]) -> bool:
    """True if ``subdomain`` falls in shard ``(index, count)``; CRC32 is stable everywhere."""
    index, count = shard
    return zlib.crc32(subdomain.encode()) % count == index - 1


def select_tenants(connection: Connection, selection: Selection) -> list[TenantRecord]:
    """The tenants ``selection`` picks, by subdomain (in the order named, for ``tenants``).

    A database where core has never run has no registry and so no tenants; naming tenants
    there raises SchemaNotReady.
    """
    statuses = selection.values_of("status")
    if selection.tenants is not None:
        records = find_tenants(connection, selection.tenants)
        if statuses is not None:
            records = [record for record in records if record.status in statuses]
    elif not registry_exists(connection):
        return []
    else:
        records = list_tenants(
            connection, statuses=MIGRATED_STATUSES if statuses is None else statuses
        )
    plans = selection.values_of("plan")
    if plans is not None:
        records = [record for record in records if record.plan in plans]
    if selection.shard is not None:
        shard = selection.shard
        records = [record for record in records if in_shard(record.subdomain, shard)]
    return records


def schemas_of(records: Sequence[TenantRecord]) -> list[str]:
    """The schema names of ``records``, in order."""
    return [record.database_schema for record in records]
