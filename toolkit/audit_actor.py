"""The acting user reaches the rows: ``created_by``/``updated_by``, and the database's audit.

Two things happen in every ORM Session (listeners installed by ``toolkit.orm_hooks``):

- before a flush, new ``AuditMixin`` objects get ``created_by`` and changed ones get
  ``updated_by`` from ``toolkit.actor.current_actor()``. A value the caller set wins: a
  ``created_by`` that is not None is kept (an import that preserves the original author),
  and so is an ``updated_by`` assigned since the last flush. Outside ``acting_as`` nothing
  is stamped: ``created_by`` stays None and ``updated_by`` keeps its previous value;
- the database is told who acts, with the transaction-local setting ``app.actor``
  (``set_config('app.actor', ..., true)``), which the audit trigger records: when a
  transaction begins with an actor in context, and again before a statement or a flush if
  the actor changed since (one round trip, only then). The setting ends with the
  transaction, so a pooled connection carries nothing to its next user.

Raw SQL on a plain Connection calls ``set_actor(connection, actor)`` itself, inside its
transaction; in psql: ``SELECT set_config('app.actor', 'alice', true);``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from toolkit.actor import current_actor, validate_actor

ACTOR_SETTING = "app.actor"
_SET_ACTOR = text("SELECT set_config(:setting, :actor, true)")
# session.info: the actor this session's transaction has told the database (missing:
# unknown, e.g. after a savepoint ended, whose rollback would undo the setting).
_TOLD_KEY = "tenantctl.audit.actor"
_UNKNOWN = object()


def set_actor(connection: Connection, actor: str | None) -> None:
    """Record ``actor`` as who acts for the rest of ``connection``'s current transaction.

    None clears it, so the audit falls back to the database role. Call it inside the
    transaction (a SQLAlchemy Connection begins one on first use); it ends with it.
    """
    value = "" if actor is None else validate_actor(actor)
    connection.execute(_SET_ACTOR, {"setting": ACTOR_SETTING, "actor": value})


def tell_on_begin(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """``after_begin`` listener: a transaction that begins inside ``acting_as`` says who."""
    actor = current_actor()
    if actor is not None:
        set_actor(connection, actor)
    session.info[_TOLD_KEY] = actor


def forget_after_savepoint(session: Session, transaction: SessionTransaction) -> None:
    """``after_transaction_end`` listener: a savepoint's rollback undoes ``set_config``."""
    if transaction.nested:
        session.info.pop(_TOLD_KEY, None)


def tell_before_statement(state: ORMExecuteState) -> None:
    """``do_orm_execute`` listener: re-tell the database if the actor changed mid-transaction."""
    _sync(state.session, state.bind_arguments)


def stamp_before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    """``before_flush`` listener: fill the audit columns, and make sure the database knows."""
    _sync(session, {})
    actor = current_actor()
    if actor is None:
        return
    # Imported here: ``models`` installs this listener while it is being imported.
    from models.mixins import AuditMixin

    for obj in session.new:
        if isinstance(obj, AuditMixin) and obj.created_by is None:
            obj.created_by = actor
    for obj in session.dirty:
        if (
            isinstance(obj, AuditMixin)
            and session.is_modified(obj, include_collections=False)
            and not inspect(obj).attrs.updated_by.history.has_changes()
        ):
            obj.updated_by = actor


def _sync(session: Session, bind_arguments: dict[str, Any]) -> None:
    """Tell the open transaction's database session the current actor, if it changed.

    One round trip, and only when the actor differs from what this transaction was told.
    A session with several binds is told when each of its connections begins, not after.
    """
    if not session.in_transaction():
        return  # the transaction about to begin is told by tell_on_begin
    actor = current_actor()
    if session.info.get(_TOLD_KEY, _UNKNOWN) == actor:
        return
    try:
        bind = session.get_bind(**bind_arguments)
    except UnboundExecutionError:
        return
    connection = session.connection(bind_arguments={"bind": bind})  # may begin: told there
    if session.info.get(_TOLD_KEY, _UNKNOWN) == actor:
        return
    set_actor(connection, actor)
    session.info[_TOLD_KEY] = actor
