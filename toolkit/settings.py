"""Settings read from the environment, overridable by CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from toolkit.errors import ConfigurationError

DATABASE_URL_ENV = "DATABASE_URL"


@dataclass(frozen=True)
class Settings:
    """What the toolkit needs to know about its environment.

    ``database_url`` is a SQLAlchemy URL such as
    ``postgresql+psycopg://postgres@127.0.0.1:5432/app``; ``postgresql://`` is accepted too.
    """

    database_url: str | None = None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, database_url: str | None = None
    ) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); explicit arguments win."""
        env = os.environ if environ is None else environ
        return cls(database_url=database_url or env.get(DATABASE_URL_ENV) or None)

    def require_database_url(self) -> str:
        """The database URL, or a ConfigurationError that says how to provide one."""
        if not self.database_url:
            raise ConfigurationError(
                "no database URL: pass --database-url or set DATABASE_URL, e.g. "
                "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/app "
                "(`make db` starts a local server and prints one)"
            )
        return self.database_url
