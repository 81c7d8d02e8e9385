"""Soft-deleted rows stay out of ORM queries unless a statement asks for them.

A ``do_orm_execute`` listener on every Session adds ``with_loader_criteria`` for
``SoftDeleteMixin``: ``deleted_at IS NULL`` on every soft-deletable entity a SELECT names, in
its WHERE clause or, for joined entities, in their ON clause. Relationship loads are
filtered too (lazy, ``selectin``, ``joined``), including those of objects that were never
loaded by a query (added in this session). Column loads (refreshing an expired object) are
not, so an object that was just soft-deleted can still be read.

To see soft-deleted rows, say so per statement::

    session.scalars(select(User).execution_options(include_deleted=True))
    session.execute(stmt, execution_options={"include_deleted": True})
    session.get(User, 42, execution_options={"include_deleted": True})

The option covers the statement's own entities; relationships loaded from them later are
filtered again, so query deleted children explicitly.

Only SELECTs are filtered: an ORM ``update()``/``delete()`` statement reaches deleted rows
too. ``session.get()`` returns None for a soft-deleted row, unless the object is already in
the session's identity map (then no SELECT is sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria

if TYPE_CHECKING:
    from models.mixins import SoftDeleteMixin

INCLUDE_DELETED = "include_deleted"


def _not_deleted(cls: type[SoftDeleteMixin]) -> ColumnElement[bool]:
    """The criterion of one soft-deletable class (module level, so it pickles)."""
    return cls.deleted_at.is_(None)


def hide_soft_deleted(state: ORMExecuteState) -> None:
    """``do_orm_execute`` listener: add the not-deleted criterion to ORM SELECTs."""
    if (
        not state.is_select
        or state.is_column_load
        or state.execution_options.get(INCLUDE_DELETED, False)
    ):
        return
    # Imported here: ``models`` installs this listener while it is being imported.
    from models.mixins import SoftDeleteMixin

    state.statement = state.statement.options(
        with_loader_criteria(SoftDeleteMixin, _not_deleted, include_aliases=True)
    )
