"""Install the ORM listeners of soft delete and audit on every Session, once per process.

Registered on the ``sqlalchemy.orm.Session`` class (SQLAlchemy's documented way to reach
every session, whoever creates it), when ``models.base`` is imported, as every model class's
module does: anything that runs ORM queries on our models has loaded one, so no session goes
without them, while processes that never touch the ORM (a rollout) pay nothing.

- ``do_orm_execute``: soft-deleted rows left out (``toolkit.soft_delete``), and the
  database told a changed actor (``toolkit.audit_actor``);
- ``after_begin``, ``after_transaction_end``: the database told who acts;
- ``before_flush``: ``created_by``/``updated_by`` filled from the acting user, and the
  tenant's plan limits checked for new users, designs and mockups (``toolkit.usage.hooks``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from toolkit.audit_actor import (
    forget_after_savepoint,
    stamp_before_flush,
    tell_before_statement,
    tell_on_begin,
)
from toolkit.soft_delete import hide_soft_deleted
from toolkit.usage.hooks import enforce_quotas

LISTENERS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("do_orm_execute", hide_soft_deleted),
    ("do_orm_execute", tell_before_statement),
    ("after_begin", tell_on_begin),
    ("after_transaction_end", forget_after_savepoint),
    ("before_flush", stamp_before_flush),
    ("before_flush", enforce_quotas),
)


def install() -> None:
    """Register every listener on ``Session``; a second call changes nothing."""
    for name, listener in LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


install()
