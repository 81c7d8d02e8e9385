"""The SQL comment tag: ``/* tenant=acme */`` in front of statements run for a tenant.

Opt-in (``make_engine(..., tag_sql=True)`` or ``TENANTCTL_SQL_TENANT_TAG=1``): a
``before_cursor_execute`` listener prefixes every statement the engine sends while a tenant
is in scope (``toolkit.tenant_context``), so ``pg_stat_activity``, ``log_min_duration_statement``
and ``auto_explain`` lines say which tenant a statement ran for. The subdomain in the comment
has passed ``toolkit.naming`` (lowercase letters, digits and single hyphens) and is checked
again here, so no tenant name can close the comment and smuggle SQL after it.

``pg_stat_statements`` ignores comments when it groups statements; per tenant it is already
split by schema, because tenant statements name their tenant's tables
(``schema_translate_map``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import Engine, event

from toolkit.errors import InvalidSubdomain
from toolkit.tenant_context import current_tenant

_SAFE_SUBDOMAIN = re.compile(r"[a-z][a-z0-9-]{0,49}")


@functools.lru_cache(maxsize=4096)
def tenant_comment(subdomain: str) -> str:
    """``/* tenant=SUBDOMAIN */ `` for a validated subdomain, or InvalidSubdomain."""
    if not _SAFE_SUBDOMAIN.fullmatch(subdomain):
        raise InvalidSubdomain(
            f"cannot tag SQL with tenant {subdomain!r}: only a validated subdomain (lowercase "
            "letters, digits, hyphens) may appear in the comment; scope tenants with "
            "tenant_scope('acme')"
        )
    return f"/* tenant={subdomain} */ "


def _tag_statement(
    _connection: Any,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    _executemany: bool,
) -> tuple[str, Any]:
    """The listener: the statement with the tag in front when a tenant is in scope."""
    scope = current_tenant()
    if scope is None:
        return statement, parameters
    return tenant_comment(scope.subdomain) + statement, parameters


def tag_statements(engine: Engine) -> None:
    """Make ``engine`` prefix its statements with the tenant in scope (once per engine)."""
    if not event.contains(engine, "before_cursor_execute", _tag_statement):
        event.listen(engine, "before_cursor_execute", _tag_statement, retval=True)


def tags_statements(engine: Engine) -> bool:
    """True if ``engine`` tags its statements."""
    return event.contains(engine, "before_cursor_execute", _tag_statement)
