import os, signal
from sqlalchemy import text
from test_rollout_safety import *  # noqa
from test_rollout_safety import _start_tenantctl, _add_column_revision, _steps, _state, _wait_for, _done_count, _sleeping_backends, _descendants, _finish, runs  # noqa
def test_dbg(db_url, engine, make_tenants, scratch_ini, runs):
    schemas = make_tenants(*(f"k{i}" for i in range(8)))
    for revision, column in zip(("k1", "k2"), KILL_COLUMNS):
        _add_column_revision(scratch_ini, revision, column, sleep=0.15)
    run = _start_tenantctl(db_url, scratch_ini, "migrate", "up", "--workers", "2")
    _wait_for(lambda: _done_count(engine) >= 2 and len(_sleeping_backends(engine)) >= 2, "x", run)
    (w,) = _descendants(run.pid)
    os.kill(w, signal.SIGKILL)
    r = _finish(run)
    print(r.returncode, r.stdout, r.stderr)
    print(runs()); print(_steps(engine)); print(_state(engine, schemas, KILL_COLUMNS))
