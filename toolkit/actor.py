"""Who is acting: the current user (or service) in a context variable.

Shaped like structlog's ``contextvars``: ``bind_actor`` returns a token and ``reset_actor``
takes it back; ``acting_as`` is the context manager that does both, restoring the previous
actor on the way out, on error too. A ``ContextVar`` is per thread and per asyncio task (a
task starts with a copy of its creator's context), so concurrent requests never see each
other's actor.

The ORM reads it (``toolkit.audit_actor``) to fill ``created_by``/``updated_by`` and to tell
the database's audit log who acts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token

from toolkit.errors import InvalidActor

# As long as the audit columns (``created_by``/``updated_by`` are VARCHAR(255)).
MAX_ACTOR_LENGTH = 255

_actor: ContextVar[str | None] = ContextVar("tenantctl_actor", default=None)


def validate_actor(actor: str) -> str:
    """``actor`` if it can be recorded: a non-blank string of at most 255 characters."""
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidActor(
            f"actor {actor!r} cannot be recorded: it must be a non-blank string; "
            "pass a user id, an email or a service name"
        )
    if len(actor) > MAX_ACTOR_LENGTH or "\x00" in actor:
        raise InvalidActor(
            f"actor {actor[:40]!r}... cannot be recorded: it must have at most "
            f"{MAX_ACTOR_LENGTH} characters and no NUL; pass a shorter id"
        )
    return actor


def current_actor() -> str | None:
    """The acting user of this context, or None outside any ``acting_as``."""
    return _actor.get()


def bind_actor(actor: str | None) -> Token[str | None]:
    """Make ``actor`` the current actor (None: nobody); returns the token for ``reset_actor``."""
    return _actor.set(None if actor is None else validate_actor(actor))


def reset_actor(token: Token[str | None]) -> None:
    """Restore the actor that was current before the ``bind_actor`` that returned ``token``."""
    _actor.reset(token)


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[str]:
    """Within the block, ``actor`` is the current actor; the previous one comes back after.

    Wrap the whole unit of work, commit included: the ORM reads the actor when it flushes
    and when its transaction begins.
    """
    token = bind_actor(actor)
    try:
        yield actor
    finally:
        reset_actor(token)
