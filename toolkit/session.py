"""Sessions bound to one tenant's schema through ``schema_translate_map``.

Every statement is compiled with the tenant's schema written into it, so nothing depends on
connection state: a pooled connection (or a PgBouncer server connection in transaction
mode) carries nothing from one tenant to the next.

Two ways to choose the tenant:

- :func:`tenant_session` names it explicitly, for the life of the session;
- :func:`tenant_sessionmaker` makes :class:`TenantContextSession` objects that follow the
  tenant in scope (:func:`toolkit.tenant_context.tenant_scope`), fixed per transaction: the
  scope is read when the session's transaction begins, and every later statement of that
  transaction must run under the same scope or it raises TenantScopeChanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, event, inspect
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    sessionmaker,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import TableClause

from toolkit.errors import InvalidOption, NoTenantInScope, TenantScopeChanged
from toolkit.naming import normalize_tenant_ref, schema_for
from toolkit.tenant_context import TenantScope, current_tenant

# Where tables without a schema resolve when a TenantContextSession's transaction has no
# tenant. Statements are refused before this can matter; it is the second line, so a path
# that bypasses the checks (``session.connection().execute(...)``) fails on a schema that
# does not exist instead of reaching ``public`` or whatever ``search_path`` says.
NO_TENANT_SCHEMA = "tenantctl: no tenant in scope"


def tenant_engine(engine: Engine, tenant: str) -> Engine:
    """A view of ``engine`` (same pool) whose tenant tables resolve to ``tenant``'s schema.

    ``tenant`` is a subdomain (``acme``) or schema name (``tenant_acme``); it is validated
    before anything is sent to the database.
    """
    schema = schema_for(normalize_tenant_ref(tenant))
    return engine.execution_options(schema_translate_map={None: schema})


def tenant_session(engine: Engine, tenant: str, **session_options: Any) -> Session:
    """A Session whose tenant-model queries hit ``tenant``'s schema; core models hit ``core``."""
    return Session(bind=tenant_engine(engine, tenant), **session_options)


def tenant_sessionmaker(
    engine: Engine, **session_options: Any
) -> sessionmaker[TenantContextSession]:
    """A factory of :class:`TenantContextSession` on ``engine``, like ``sessionmaker(engine)``."""
    return sessionmaker(bind=engine, class_=TenantContextSession, **session_options)


class TenantContextSession(Session):
    """A Session whose transactions are bound to the tenant in scope when they begin.

    - Tenant tables (no schema) resolve to that tenant's schema for the whole transaction,
      flushes included; core tables resolve to ``core``.
    - With no tenant in scope, the transaction is core only: a statement or flush that
      touches a tenant table raises NoTenantInScope before any SQL is sent.
    - A statement or flush under a different scope than the transaction began with raises
      TenantScopeChanged: a transaction never switches tenants silently.
    - When a transaction begins under another tenant than the previous one, objects of
      tenant models still in the session are expunged, so the identity map never answers
      for one tenant with another tenant's row (core objects stay); if one of them has
      unflushed changes, TenantScopeChanged is raised instead of dropping or misdirecting
      them.

    The session must be bound to an Engine: it sets the schema on the connections it opens
    itself, which end with the transaction.
    """

    def __init__(self, bind: Engine | None = None, **options: Any) -> None:
        if not isinstance(bind, Engine) or options.get("binds"):
            raise InvalidOption(
                f"TenantContextSession needs an Engine as its bind, got {type(bind).__name__}"
                f"{' and binds=' if options.get('binds') else ''}: it binds the connections it "
                "opens to the tenant in scope; pass the engine (tenant_sessionmaker(engine))"
            )
        super().__init__(bind=bind, **options)
        self._bound_transaction: SessionTransaction | None = None
        self._bound_tenant: TenantScope | None = None
        self._identity_tenant: TenantScope | None = None

    @property
    def tenant(self) -> TenantScope | None:
        """The tenant the open transaction is bound to; ``None`` if core only or none is open."""
        return self._bound_tenant if self._bound_transaction is not None else None

    def check_scope(self) -> TenantScope | None:
        """The open transaction's tenant, or TenantScopeChanged if the scope is another now."""
        now = current_tenant()
        if self._bound_transaction is not None and now != self._bound_tenant:
            raise TenantScopeChanged(
                f"this session's transaction is bound to {_describe(self._bound_tenant)}, the "
                f"scope it began in, but {_describe(now)} is in scope now; a transaction never "
                "switches tenants: commit or roll back (or close the session) before changing "
                "the tenant scope, or take one session per scope"
            )
        return now

    def check_flush(self) -> None:
        """Refuse a flush that touches tenant tables while no tenant is in scope."""
        if self.check_scope() is None:
            tables = _tenant_tables_of(self.new, self.dirty, self.deleted)
            if tables:
                _refuse_without_tenant("a flush", tables)

    def _identity_lookup(self, *args: Any, **kwargs: Any) -> Any:
        # Session.get() and many-to-one lazy loads answer from the identity map without SQL
        # (SQLAlchemy documents this method as the one to override for that): check the
        # scope here too, or an object loaded for one tenant would answer for another.
        self._follow_scope(self.check_scope())
        return super()._identity_lookup(*args, **kwargs)

    def _bind_transaction(self, transaction: SessionTransaction) -> None:
        tenant = current_tenant()
        self._bound_transaction = transaction
        self._bound_tenant = tenant
        self._follow_scope(tenant)

    def _follow_scope(self, tenant: TenantScope | None) -> None:
        """Make the identity map hold objects of ``tenant`` (and core) only."""
        if tenant == self._identity_tenant:
            return
        changed = _tenant_tables_of(self.dirty, self.deleted)
        if changed:
            # The change that began this transaction was made to an object of another
            # tenant; flushing it here would write it into this transaction's schema.
            raise TenantScopeChanged(
                f"objects of tenant table(s) {', '.join(changed)} loaded under "
                f"{_describe(self._identity_tenant)} were changed under {_describe(tenant)}; "
                "change and flush them inside the scope they were loaded in, or expunge them"
            )
        for instance in [*self.identity_map.values(), *self.new]:
            if _is_tenant_mapper(inspect(instance).mapper):
                self.expunge(instance)
        self._identity_tenant = tenant

    def _release_transaction(self, transaction: SessionTransaction) -> None:
        if transaction is self._bound_transaction:
            self._bound_transaction = None
            self._bound_tenant = None


def _describe(tenant: TenantScope | None) -> str:
    if tenant is None:
        return "no tenant (core only)"
    return f"tenant {tenant.subdomain!r} (schema {tenant.schema})"


def _tenant_tables(statement: Any) -> list[str]:
    """Names of the tables without a schema (tenant tables) that ``statement`` refers to."""
    return sorted(
        {
            str(element.name)
            for element in visitors.iterate(statement)
            if isinstance(element, TableClause) and element.schema is None
        }
    )


def _is_tenant_mapper(mapper: Any) -> bool:
    return any(getattr(table, "schema", None) is None for table in mapper.tables)


def _tenant_tables_of(*groups: Iterable[object]) -> list[str]:
    """Names of the tenant tables that the mapped objects in ``groups`` are stored in."""
    return sorted(
        {
            str(table.name)
            for group in groups
            for instance in group
            for table in inspect(instance).mapper.tables
            if getattr(table, "schema", None) is None
        }
    )


def _refuse_without_tenant(what: str, tables: Iterable[str]) -> NoReturn:
    names = ", ".join(tables)
    raise NoTenantInScope(
        f"no tenant in scope for {what} on tenant table(s) {names}: this session's "
        "transaction began outside any tenant scope, so it reaches core only; begin the "
        "transaction inside `with tenant_scope('acme'):` (or use tenant_session(engine, 'acme'))"
    )


@event.listens_for(TenantContextSession, "after_transaction_create")
def _on_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if isinstance(session, TenantContextSession) and transaction.parent is None:
        session._bind_transaction(transaction)


@event.listens_for(TenantContextSession, "after_transaction_end")
def _on_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if isinstance(session, TenantContextSession):
        session._release_transaction(transaction)


@event.listens_for(TenantContextSession, "after_begin")
def _on_begin(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    if isinstance(session, TenantContextSession):
        tenant = session.tenant
        schema = tenant.schema if tenant is not None else NO_TENANT_SCHEMA
        # In place (SQLAlchemy 2): the connection is this transaction's own and is closed
        # with it, so the option never outlives the transaction.
        connection.execution_options(schema_translate_map={None: schema})


@event.listens_for(TenantContextSession, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    session = state.session
    # With no transaction open yet, the one this statement begins takes the current scope,
    # so comparing with the scope is enough.
    if isinstance(session, TenantContextSession) and session.check_scope() is None:
        tables = _tenant_tables(state.statement)
        if tables:
            _refuse_without_tenant("a statement", tables)


@event.listens_for(TenantContextSession, "before_flush")
def _on_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    if isinstance(session, TenantContextSession):
        session.check_flush()
