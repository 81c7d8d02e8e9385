"""Whether one transaction can lock the largest tenant: ``max_locks_per_transaction``.

The rule: a transaction that touches a whole tenant takes about one lock per relation
(table, index, sequence, view). That is the case of creating a tenant from the template,
restoring or cloning one, ``pg_dump`` of a tenant (it locks every table it dumps, in one
transaction) and ``DROP SCHEMA ... CASCADE``. ``tenantctl tenant drop`` itself goes 100
relations per transaction, but takes a ``pg_dump`` backup first.

PostgreSQL keeps all locks in one shared table sized at server start:
``max_locks_per_transaction * (max_connections + max_prepared_transactions)`` slots. Each
transaction is guaranteed ``max_locks_per_transaction`` of them; beyond that it borrows
free slots, and fails with "out of shared memory" (hint: increase
max_locks_per_transaction) when the others have taken them. So the largest tenant's
relation count is reported as a problem from ``NEAR`` of ``max_locks_per_transaction`` on,
and as one that cannot succeed at all above the whole table; below, as information.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection, text

from toolkit.doctor.catalog import RelationCounts
from toolkit.doctor.findings import Finding, Severity

CHECK_LOCKS = "locks"
SUBJECT = "max_locks_per_transaction"
NEAR = 1.0  # of max_locks_per_transaction: a problem from the guaranteed budget on
_SETTINGS = text(
    "SELECT current_setting('max_locks_per_transaction')::int, "
    "current_setting('max_connections')::int, "
    "current_setting('max_prepared_transactions')::int"
)
_RULE = (
    "creating, restoring or cloning a tenant, pg_dump of it (every table; tenantctl's "
    "backup, archive and drop run one) and DROP SCHEMA ... CASCADE take about one lock per "
    "relation in one transaction"
)


def suggested_setting(relations: int, current: int) -> int:
    """About twice the relations, rounded up to a multiple of 64, never below ``current``."""
    return max(current, math.ceil(2 * relations / 64) * 64)


def lock_findings(connection: Connection, counts: RelationCounts) -> list[Finding]:
    """The largest tenant's relations against what one transaction can lock."""
    if not counts.largest:
        return []
    subdomain, relations = counts.largest[0]
    per_transaction, connections, prepared = connection.execute(_SETTINGS).one()
    shared = per_transaction * (connections + prepared)
    figures = {
        "largest_tenant_relations": relations,
        "max_locks_per_transaction": per_transaction,
        "shared_lock_slots": shared,
    }
    setting = (
        f"max_locks_per_transaction is {per_transaction}; the shared lock table holds "
        f"{per_transaction} x ({connections} max_connections + {prepared} "
        f"max_prepared_transactions) = {shared}"
    )
    fix = (
        f"set max_locks_per_transaction = {suggested_setting(relations, per_transaction)} "
        "in postgresql.conf (ALTER SYSTEM SET ...) and restart PostgreSQL"
    )
    largest = f"the largest tenant, {subdomain}, has {relations} relations"
    if relations >= shared:
        return [
            Finding(
                CHECK_LOCKS,
                SUBJECT,
                f"{largest}: more than the whole shared lock table; {_RULE}, so those fail "
                f"with 'out of shared memory' even on an idle server ({setting})",
                fix,
                figures=figures,
            )
        ]
    if relations >= NEAR * per_transaction:
        return [
            Finding(
                CHECK_LOCKS,
                SUBJECT,
                f"{largest}, {relations * 100 // per_transaction}% of the "
                f"{per_transaction} locks a transaction is guaranteed; {_RULE}, borrowing "
                f"beyond it from the shared table, and fail with 'out of shared memory' when "
                f"other sessions hold the rest ({setting})",
                fix,
                figures=figures,
            )
        ]
    return [
        Finding(
            CHECK_LOCKS,
            SUBJECT,
            f"{largest}, {relations * 100 // per_transaction}% of the {per_transaction} locks "
            f"a transaction is guaranteed ({setting})",
            f"nothing to do; raise it before a tenant reaches {math.ceil(NEAR * per_transaction)}"
            " relations",
            Severity.INFO,
            figures,
        )
    ]
