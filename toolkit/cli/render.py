"""Output helpers: rich tables for people, JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

# No emoji codes: output quotes names and messages, where ":smile:" must stay as typed.
console = Console(emoji=False)
error_console = Console(stderr=True, style="red", emoji=False)


def print_json(payload: Any) -> None:
    """Write ``payload`` as JSON on stdout (plain, so it pipes cleanly into jq)."""
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    """A rich table with the given columns and rows."""
    result = Table(title=title)
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*row)
    return result


def print_error(message: str) -> None:
    """One unwrapped ``error: ...`` line on stderr (no markup: messages quote user input)."""
    error_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
