"""The checks that keep a tenant from being migrated from, or to, revisions the plan did not
expect: another process may have moved it since the plan was made.

On the rendered path both checks run in the server, as statements of the tenant's one
message that raise PLAN_OUTDATED_SQLSTATE: through ``core.require_revisions()`` (core
revision ``0008core``), which PostgreSQL compiles once per session, or, on a core without
the rollout's functions, through an anonymous ``DO`` block, which it compiles on every
call. The check at the end then runs inside ``core.finish_tenant_step()`` (see
``finish_step``). The Alembic path reads the version rows and checks them here
(``require_versions``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from toolkit.errors import PlanOutdated
from toolkit.sql import quote_literal, text_array

# Raised by the server-side checks when a tenant's revisions are not what the plan says.
PLAN_OUTDATED_SQLSTATE = "TC001"
_FOUND = "{found}"  # replaced by core.require_revisions() with the revisions it found


def require_versions_sql(
    schema: str, expected: Sequence[str], verb: str, *, lock: bool = True, in_core: bool = True
) -> str:
    """A statement that fails with PLAN_OUTDATED_SQLSTATE unless ``schema``'s version table
    holds exactly ``expected``; with ``lock`` it locks the rows it reads.

    ``in_core`` calls ``core.require_revisions()`` (see ``core_functions_usable``); otherwise
    a ``DO`` block reads the version table on the search path. Both sides are sorted by code
    point (``COLLATE "C"`` in the server, ``sorted`` here).
    """
    array = text_array(sorted(expected))
    if in_core:
        return (
            f"SELECT core.require_revisions({quote_literal(schema)}, {array}, "
            f"{'true' if lock else 'false'}, {server_message(schema, verb, expected)})"
        )
    message = quote_literal(outdated(schema, verb, ["%"], expected))
    for_update = " FOR UPDATE" if lock else ""
    # One statement in the block: PL/pgSQL prepares each anew per call.
    return (
        "DO $tenantctl$ DECLARE found text[] := ARRAY(SELECT version_num::text "  # noqa: S608  (quoted literals)
        f'FROM alembic_version ORDER BY version_num::text COLLATE "C"{for_update}); BEGIN '
        f"IF found IS DISTINCT FROM {array} THEN "
        f"RAISE EXCEPTION {message}, coalesce(nullif(array_to_string(found, ', '), ''), 'base') "
        f"USING ERRCODE = '{PLAN_OUTDATED_SQLSTATE}'; "
        "END IF; END $tenantctl$"
    )


def server_message(schema: str, verb: str, expected: Sequence[str]) -> str:
    """The quoted error message for the core functions' check: they put the revisions they
    found in place of its placeholder."""
    return quote_literal(outdated(schema, verb, [_FOUND], expected))


# The rollout's functions in core: core.require_revisions() (0008core) and
# core.finish_tenant_step() (0009core).
_CORE_FUNCTIONS = (
    "core.require_revisions(text, text[], boolean, text)",
    "core.finish_tenant_step(text, text[], bigint, integer, text)",
)


def core_functions_usable(connection: Connection) -> bool:
    """True if core has the rollout's functions and the connected role may call them."""
    usable = " AND ".join(
        f"coalesce(has_function_privilege(to_regprocedure({quote_literal(signature)}), "
        "'EXECUTE'), false)"
        for signature in _CORE_FUNCTIONS
    )
    return bool(connection.execute(text(f"SELECT {usable}")).scalar())


def require_versions(
    schema: str, found: tuple[str, ...], expected: tuple[str, ...], verb: str
) -> None:
    """PlanOutdated unless ``found`` (read by the caller) is ``expected``."""
    if found != tuple(sorted(expected)):
        raise PlanOutdated(outdated(schema, verb, found, expected))


def outdated(schema: str, verb: str, found: Sequence[str], expected: Sequence[str]) -> str:
    """Why a tenant was rolled back: it is not where the plan says it is (or would end)."""
    return (
        f"{schema} {verb} {', '.join(found) or 'base'}, not "
        f"{', '.join(sorted(expected)) or 'base'} as planned (another process moved it since "
        "the plan was made); rolled back, run again to re-plan"
    )
