"""Settings: every field parsed from its variable, flags over the environment, bad values
refused with the variable, the value and an example, and the old readers going through it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from toolkit import InvalidSetting, Limits, RunOptions, Settings, default_backup_path
from toolkit.admin_sessions import PostgresSessionStore, session_store
from toolkit.errors import ConfigurationError
from toolkit.exit_codes import EXIT_USAGE, exit_code_for
from toolkit.migrations.config import alembic_ini_path
from toolkit.migrations.options import run_options_from_settings
from toolkit.settings import SETTINGS, SETTINGS_BY_FIELD, configuration_table
from toolkit.tenant_cache import MemoryTenantCache, default_tenant_cache

# One good text per variable and the value it must give.
GOOD = {
    "DATABASE_URL": ("postgresql://u@h:5433/app", "postgresql://u@h:5433/app"),
    "REDIS_URL": ("rediss://cache:6380/2", "rediss://cache:6380/2"),
    "TENANTCTL_POOL_SIZE": ("12", 12),
    "TENANTCTL_MAX_OVERFLOW": ("0", 0),
    "TENANTCTL_POOL_TIMEOUT": ("500ms", 0.5),
    "TENANTCTL_POOL_RECYCLE": ("30m", 1800.0),
    "TENANTCTL_POOL_PRE_PING": ("yes", True),
    "TENANTCTL_CONNECT_TIMEOUT": ("2", 2),
    "TENANTCTL_STATEMENT_TIMEOUT": ("2.5", 2.5),
    "TENANTCTL_TRANSACTION_POOLER": ("ON", True),
    "TENANTCTL_SQL_TENANT_TAG": ("1", True),
    "TENANTCTL_LOG_FORMAT": ("JSON", "json"),
    "TENANTCTL_LOG_LEVEL": ("Debug", "debug"),
    "TENANTCTL_MIGRATE_WORKERS": ("8", 8),
    "TENANTCTL_MIGRATE_LOCK_WAIT": ("0", 0.0),
    "TENANTCTL_MIGRATE_LOCK_TIMEOUT": ("1h", 3600.0),
    "TENANTCTL_MIGRATE_STATEMENT_TIMEOUT": ("90s", 90.0),
    "TENANTCTL_MIGRATE_LOCK_RETRIES": ("0", 0),
    "TENANTCTL_TENANT_CACHE_TTL": ("0.25", 0.25),
    "TENANTCTL_BACKUP_DIR": ("/var/backups/t", Path("/var/backups/t")),
    "TENANTCTL_ALEMBIC_INI": ("/srv/alembic.ini", Path("/srv/alembic.ini")),
}
# Texts each variable must refuse.
BAD = {
    "DATABASE_URL": ["mysql://u@h/app", "not a url", "sqlite:///x.db"],
    "REDIS_URL": ["http://cache:6379", "cache:6379"],
    "TENANTCTL_POOL_SIZE": ["0", "1001", "five", "5.0", "1_0"],
    "TENANTCTL_MAX_OVERFLOW": ["-1", "1001", "ten"],
    "TENANTCTL_POOL_TIMEOUT": ["0", "2d", "-1", "soon", "inf", "nan"],
    "TENANTCTL_POOL_RECYCLE": ["0.5", "25h", "never"],
    "TENANTCTL_POOL_PRE_PING": ["maybe", "2"],
    "TENANTCTL_CONNECT_TIMEOUT": ["0", "301", "5s"],
    "TENANTCTL_STATEMENT_TIMEOUT": ["-5", "2d", "1e3"],
    "TENANTCTL_TRANSACTION_POOLER": ["enabled"],
    "TENANTCTL_SQL_TENANT_TAG": ["y"],
    "TENANTCTL_LOG_FORMAT": ["xml", "logfmt"],
    "TENANTCTL_LOG_LEVEL": ["verbose", "warn", "10"],
    "TENANTCTL_MIGRATE_WORKERS": ["0", "65", "many"],
    "TENANTCTL_MIGRATE_LOCK_WAIT": ["-1", "2d"],
    "TENANTCTL_MIGRATE_LOCK_TIMEOUT": ["0", "0ms", "2h"],
    "TENANTCTL_MIGRATE_STATEMENT_TIMEOUT": ["0", "25h"],
    "TENANTCTL_MIGRATE_LOCK_RETRIES": ["-1", "101", "3.5"],
    "TENANTCTL_TENANT_CACHE_TTL": ["0", "3601", "abc"],
    "TENANTCTL_BACKUP_DIR": [],  # any non-empty path is a path
    "TENANTCTL_ALEMBIC_INI": [],
}


def test_every_field_has_one_documented_setting_and_the_tables_above_cover_them_all():
    fields = [field.name for field in dataclasses.fields(Settings)]
    assert [spec.field for spec in SETTINGS] == fields
    assert set(GOOD) == set(BAD) == {spec.env for spec in SETTINGS}
    table = configuration_table()
    for spec in SETTINGS:
        assert f"| `{spec.env}` |" in table
        assert spec.meaning
        assert spec.example
        # The documented example is itself accepted.
        assert Settings.from_env({spec.env: spec.example}) is not None


def test_defaults_are_valid_and_match_the_migration_runners_own_defaults():
    defaults = Settings()
    for spec in SETTINGS:  # __post_init__ skips defaults, so check them here
        assert spec.kind.accepts(getattr(defaults, spec.field)), spec.field
    assert Settings.from_env({}) == defaults
    assert run_options_from_settings(defaults) == RunOptions()
    assert defaults.migrate_lock_timeout == Limits().lock_timeout
    assert defaults.migrate_statement_timeout == Limits().statement_timeout


@pytest.mark.parametrize("variable", sorted(GOOD))
def test_each_variable_is_parsed_into_its_field(variable):
    text, expected = GOOD[variable]
    spec = next(spec for spec in SETTINGS if spec.env == variable)
    settings = Settings.from_env({variable: f"  {text} "})
    assert getattr(settings, spec.field) == expected
    assert settings == dataclasses.replace(Settings(), **{spec.field: expected})


@pytest.mark.parametrize(
    ("variable", "text"), [(name, text) for name, texts in sorted(BAD.items()) for text in texts]
)
def test_each_bad_value_is_refused_naming_variable_value_and_an_example(variable, text):
    spec = next(spec for spec in SETTINGS if spec.env == variable)
    with pytest.raises(InvalidSetting) as raised:
        Settings.from_env({variable: text})
    message = str(raised.value)
    assert message.startswith(f"invalid {variable}={text!r}: expected ")
    assert message.endswith(f"e.g. {variable}={spec.example}")
    assert exit_code_for(raised.value) == EXIT_USAGE


def test_an_empty_variable_counts_as_unset():
    assert Settings.from_env({"TENANTCTL_POOL_SIZE": "", "DATABASE_URL": "  "}) == Settings()


def test_a_flag_overrides_the_environment_and_is_named_when_bad():
    env = {"TENANTCTL_POOL_SIZE": "7", "DATABASE_URL": "postgresql://env@h/app"}
    settings = Settings.from_env(
        env, flags={"pool_size": "3", "log_level": None}, database_url="postgresql://f@h/app"
    )
    assert (settings.pool_size, settings.database_url) == (3, "postgresql://f@h/app")
    # A flag that is given wins even over a bad variable, which is then never read.
    assert Settings.from_env({"TENANTCTL_POOL_SIZE": "x"}, flags={"pool_size": 2}).pool_size == 2
    with pytest.raises(InvalidSetting, match=r"^invalid --pool-size '0': .* e\.g\. --pool-size 5$"):
        Settings.from_env(env, flags={"pool_size": "0"})
    with pytest.raises(TypeError, match="no setting named pool"):
        Settings.from_env(env, flags={"pool": "3"})


def test_passwords_never_appear_in_messages():
    for variable, url in (
        ("DATABASE_URL", "mysql://admin:s3cret@db/app"),
        ("REDIS_URL", "http://:s3cret@cache:6379/0"),
    ):
        with pytest.raises(InvalidSetting) as raised:
            Settings.from_env({variable: url})
        assert "s3cret" not in str(raised.value)
        assert ":***@" in str(raised.value)


def test_repr_masks_passwords():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://app:s3cret@db/app"})
    assert settings.database_url == "postgresql://app:s3cret@db/app"
    assert "s3cret" not in repr(settings)
    assert "database_url='postgresql://app:***@db/app'" in repr(settings)


def test_the_constructor_checks_values_too():
    with pytest.raises(InvalidSetting, match=r"Settings\(pool_size=0\).*e\.g\. pool_size=5"):
        Settings(pool_size=0)
    with pytest.raises(InvalidSetting, match="log_format"):
        Settings(log_format="xml")
    with pytest.raises(InvalidSetting, match="pool_pre_ping"):
        Settings(pool_pre_ping=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidSetting) as raised:
        Settings(database_url="mysql://root:s3cret@h/db")
    assert "s3cret" not in str(raised.value)


def test_statement_timeout_cannot_go_through_a_transaction_pooler():
    env = {"TENANTCTL_STATEMENT_TIMEOUT": "30s", "TENANTCTL_TRANSACTION_POOLER": "1"}
    with pytest.raises(InvalidSetting, match="ALTER ROLE") as raised:
        Settings.from_env(env)
    assert "TENANTCTL_STATEMENT_TIMEOUT" in str(raised.value)
    assert "TENANTCTL_TRANSACTION_POOLER" in str(raised.value)
    # "off" is no timeout, so it combines with a pooler.
    assert Settings.from_env({**env, "TENANTCTL_STATEMENT_TIMEOUT": "off"}).transaction_pooler


def test_only_parses_the_fields_asked_for():
    env = {"TENANTCTL_POOL_SIZE": "nonsense", "TENANTCTL_BACKUP_DIR": "/tmp/b"}
    assert Settings.from_env(env, only=("backup_dir",)).backup_dir == Path("/tmp/b")
    with pytest.raises(InvalidSetting, match="TENANTCTL_POOL_SIZE"):
        Settings.from_env(env)


def test_missing_database_url_is_a_configuration_error_saying_how_to_set_it():
    with pytest.raises(ConfigurationError, match="--database-url or set DATABASE_URL"):
        Settings().require_database_url()


def test_migration_defaults_feed_run_options():
    settings = Settings.from_env(
        {
            "TENANTCTL_MIGRATE_WORKERS": "3",
            "TENANTCTL_MIGRATE_LOCK_WAIT": "2m",
            "TENANTCTL_MIGRATE_LOCK_TIMEOUT": "750ms",
            "TENANTCTL_MIGRATE_STATEMENT_TIMEOUT": "1h",
            "TENANTCTL_MIGRATE_LOCK_RETRIES": "0",
        }
    )
    options = run_options_from_settings(settings)
    assert (options.workers, options.lock_wait) == (3, 120.0)
    assert options.limits == Limits(lock_timeout=0.75, statement_timeout=3600.0, lock_retries=0)
    # -x arguments still override them.
    assert options.with_x_arguments(["workers=1"]).workers == 1


def test_readers_of_single_variables_go_through_settings(monkeypatch, tmp_path, engine):
    monkeypatch.setenv("TENANTCTL_BACKUP_DIR", str(tmp_path / "b"))
    assert default_backup_path("acme").parent == tmp_path / "b"
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\n")
    monkeypatch.setenv("TENANTCTL_ALEMBIC_INI", str(ini))
    assert alembic_ini_path() == ini
    monkeypatch.setenv("TENANTCTL_ALEMBIC_INI", str(tmp_path / "missing.ini"))
    with pytest.raises(ConfigurationError, match=r"missing\.ini"):
        alembic_ini_path()

    assert isinstance(session_store(engine, {}), PostgresSessionStore)
    with pytest.raises(InvalidSetting, match="REDIS_URL="):
        session_store(engine, {"REDIS_URL": "localhost:6379"})
    cache = default_tenant_cache({"TENANTCTL_TENANT_CACHE_TTL": "2s"})
    assert isinstance(cache, MemoryTenantCache)
    assert cache.ttl == 2.0
    with pytest.raises(InvalidSetting, match="TENANTCTL_TENANT_CACHE_TTL='0'"):
        default_tenant_cache({"TENANTCTL_TENANT_CACHE_TTL": "0"})


def test_spec_lookup_by_field_matches_the_list():
    assert list(SETTINGS_BY_FIELD.values()) == list(SETTINGS)
    assert SETTINGS_BY_FIELD["pool_size"].flag == "--pool-size"
