"""Run the real console commands (alembic, tenantctl) in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

from toolkit.migrations.config import alembic_ini_path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], url: URL | str | None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a console command (``alembic`` or ``tenantctl``) as a user would, in a subprocess."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url is not None:
        text_url = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        environment["DATABASE_URL"] = text_url
    environment.update(env)
    return subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def alembic(
    url: URL | str | None, *args: str, ini: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``alembic -c INI ARGS`` against ``url``; INI defaults to the project's alembic.ini."""
    config_file = ini or alembic_ini_path()
    command = [sys.executable, "-m", "alembic", "-c", str(config_file), *args]
    return run_cli(command, url, **env)


def tenantctl(url: URL | str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """``tenantctl ARGS`` against ``url``."""
    return run_cli([sys.executable, "-m", "toolkit.cli", *args], url)


def one_line_error(
    result: subprocess.CompletedProcess[str], *fragments: str, prefix: str = "error: "
) -> str:
    """Assert that a command failed as every user-facing failure must: no traceback, and one
    line on stderr that starts with ``prefix`` and holds each of ``fragments``; that line."""
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert lines[0].startswith(prefix), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
