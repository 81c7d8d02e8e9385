"""A rollout's worker processes start from the raw command line, and its pool adopts them."""

import pytest

from toolkit.cli.early_workers import prestart_rollout_workers
from toolkit.migrations import worker_process
from toolkit.migrations.workers import WorkerPool


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    for worker in worker_process.adopt_prestarted(100):
        worker.close(kill=True)


@pytest.mark.parametrize(
    ("arguments", "started"),
    [
        (["up", "--workers", "3"], 2),
        (["down", "tenant@-1", "--workers=2", "--tenants", "acme"], 1),
        (["up", "--workers", "1"], 0),
        (["up", "--workers", "2", "--dry-run"], 0),
        (["up", "--workers", "x"], 0),  # the command itself reports the bad value
        (["status"], 0),
        (["history", "--workers", "2"], 0),
    ],
)
def test_workers_start_only_for_a_rollout_that_needs_them(arguments, started, monkeypatch):
    monkeypatch.delenv("TENANTCTL_MIGRATE_WORKERS", raising=False)

    prestart_rollout_workers(arguments)

    assert len(worker_process._prestarted) == started


def test_the_default_comes_from_the_setting(monkeypatch):
    monkeypatch.setenv("TENANTCTL_MIGRATE_WORKERS", "2")

    prestart_rollout_workers(["up"])

    assert len(worker_process._prestarted) == 1


def test_a_pool_adopts_live_prestarted_workers_before_starting_new_ones():
    worker_process.prestart(2)
    dead, alive = worker_process._prestarted
    dead.close(kill=True)

    with WorkerPool.spawn(2) as pool:
        assert pool.workers[0] is alive
        assert pool.workers[1] is not dead
        assert not worker_process._prestarted
