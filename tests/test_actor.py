"""The acting user: a context variable that nests, resets on error, stays per asyncio task, and
fills created_by/updated_by of the rows a session writes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from models import Order, User
from toolkit import tenant_session
from toolkit.actor import acting_as, bind_actor, current_actor, reset_actor
from toolkit.errors import InvalidActor

# -- the context variable --------------------------------------------------------------------


def test_no_actor_outside_any_context():
    assert current_actor() is None


def test_acting_as_nests_and_restores_the_previous_actor():
    with acting_as("alice"):
        assert current_actor() == "alice"
        with acting_as("bob"):
            assert current_actor() == "bob"
        assert current_actor() == "alice"
    assert current_actor() is None


def test_acting_as_restores_the_previous_actor_on_error():
    with acting_as("alice"):
        with pytest.raises(RuntimeError), acting_as("bob"):
            raise RuntimeError("boom")
        assert current_actor() == "alice"
    assert current_actor() is None


def test_bind_returns_a_token_that_reset_takes_back():
    token = bind_actor("alice")
    inner = bind_actor(None)
    assert current_actor() is None
    reset_actor(inner)
    assert current_actor() == "alice"
    reset_actor(token)
    assert current_actor() is None


def test_each_asyncio_task_sees_its_own_actor():
    async def work(actor: str) -> list[str | None]:
        seen = []
        with acting_as(actor):
            for _ in range(3):
                await asyncio.sleep(0)  # let the other task run in between
                seen.append(current_actor())
        seen.append(current_actor())
        return seen

    async def both() -> list[list[str | None]]:
        return list(await asyncio.gather(work("alice"), work("bob")))

    assert asyncio.run(both()) == [
        ["alice", "alice", "alice", None],
        ["bob", "bob", "bob", None],
    ]


@pytest.mark.parametrize("actor", ["", "   ", "x" * 256, "nul\x00byte"])
def test_actors_that_cannot_be_recorded_are_refused(actor):
    with pytest.raises(InvalidActor, match="cannot be recorded"), acting_as(actor):
        pass
    assert current_actor() is None


# -- created_by / updated_by -----------------------------------------------------------------


def _user(engine, email: str) -> tuple[str | None, str | None]:
    with tenant_session(engine, "acme") as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return user.created_by, user.updated_by


def test_created_by_is_the_actor_of_the_insert(engine, make_tenants):
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))
    assert _user(engine, "ann@acme.test") == ("alice", None)


def test_updated_by_is_the_actor_of_the_update(engine, make_tenants):
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))
    with acting_as("bob"), tenant_session(engine, "acme") as session, session.begin():
        session.scalars(select(User)).one().full_name = "Ann"
    assert _user(engine, "ann@acme.test") == ("alice", "bob")


def test_soft_delete_counts_as_an_update(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))
    with acting_as("carol"), tenant_session(engine, "acme") as session, session.begin():
        session.scalars(select(User)).one().soft_delete()
    with tenant_session(engine, "acme") as session:
        ann = session.scalars(select(User).execution_options(include_deleted=True)).one()
        assert (ann.created_by, ann.updated_by, ann.is_deleted) == (None, "carol", True)


def test_nothing_is_stamped_outside_a_context(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))
    assert _user(engine, "ann@acme.test") == (None, None)
    with acting_as("bob"), tenant_session(engine, "acme") as session, session.begin():
        session.scalars(select(User)).one().full_name = "Ann"
    with tenant_session(engine, "acme") as session, session.begin():
        session.scalars(select(User)).one().full_name = "Ann B."
    # Outside a context updated_by keeps the last actor's name (the audit log has the rest).
    assert _user(engine, "ann@acme.test") == (None, "bob")


def test_an_explicit_created_by_wins_over_the_actor(engine, make_tenants):
    make_tenants("acme")
    with acting_as("importer"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test", created_by="original-author"))
    assert _user(engine, "ann@acme.test") == ("original-author", None)


def test_an_explicit_updated_by_wins_over_the_actor(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))
    with acting_as("service"), tenant_session(engine, "acme") as session, session.begin():
        ann = session.scalars(select(User)).one()
        ann.full_name = "Ann"
        ann.updated_by = "on-behalf-of-dan"
    assert _user(engine, "ann@acme.test") == (None, "on-behalf-of-dan")


def test_an_unchanged_object_is_not_stamped(engine, make_tenants):
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test", full_name="Ann"))
    with acting_as("bob"), tenant_session(engine, "acme") as session, session.begin():
        ann = session.scalars(select(User)).one()
        ann.full_name = "Ann"  # the same value: no change
    assert _user(engine, "ann@acme.test") == ("alice", None)


def test_models_without_audit_columns_are_left_alone(engine, make_tenants):
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(Order(platform="etsy", external_id="E-1", total=1, ordered_at=text("now()")))
    with tenant_session(engine, "acme") as session:
        assert session.scalars(select(Order.external_id)).all() == ["E-1"]
        assert not hasattr(Order, "created_by")


def test_the_actor_is_read_at_flush_time(engine, make_tenants):
    """A session opened outside the context but flushed inside it stamps the actor."""
    make_tenants("acme")
    with tenant_session(engine, "acme") as session:
        session.add(User(email="ann@acme.test"))
        with acting_as("alice"):
            session.commit()
    assert _user(engine, "ann@acme.test") == ("alice", None)
