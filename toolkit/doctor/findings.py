"""What the doctor reports: findings, each with a severity, a subject, the problem and its fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding matters to the doctor's exit code.

    ``problem``: something to fix; any one makes ``tenantctl doctor`` exit 3.
    ``info``: a figure worth knowing (relation counts, catalog size, lock headroom,
    archived tenants behind head); never changes the exit code on its own.
    """

    PROBLEM = "problem"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found: which check, what it concerns, what is wrong, how to fix it.

    ``figures`` carries the numbers behind the text (counts, bytes, settings) for a machine
    reading ``--json``; ``problem`` and ``fix`` are for people.
    """

    check: str
    subject: str
    problem: str
    fix: str
    severity: Severity = Severity.PROBLEM
    figures: Mapping[str, int] = field(default_factory=dict)


def problems(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that are problems (those that make the doctor exit 3)."""
    return [finding for finding in findings if finding.severity is Severity.PROBLEM]


def name_some(names: Iterable[str], shown: int = 5) -> str:
    """``a, b, c`` for a few names, ``a, b, c, d, e and 7 more`` for many."""
    listed = list(names)
    head = ", ".join(listed[:shown])
    return head if len(listed) <= shown else f"{head} and {len(listed) - shown} more"
