"""The two Alembic branches, ``core`` and ``tenant``, and which one a command addresses.

Both branches share one script directory, but each keeps its version table with its data:
``core.alembic_version`` for core and ``<tenant>.alembic_version`` for every tenant. Alembic's
step functions plan against all heads, so env.py runs each version table with a step
function filtered down to the steps of that table's branch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationStep, RevisionStep, StampStep
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from toolkit.errors import RevisionTargetError

CORE = "core"
TENANT = "tenant"
BRANCHES: tuple[str, ...] = (CORE, TENANT)

_RELATIVE_SUFFIX = re.compile(r"^(?P<base>.*?)(?P<step>[+-]\d+)?$")

StepFunction = Callable[[Any, Any], Sequence[Any]]


@dataclass(frozen=True)
class BranchIndex:
    """Which revision ids belong to which branch, built once per process from the scripts."""

    revisions: dict[str, frozenset[str]]

    @classmethod
    def build(cls, script: ScriptDirectory) -> BranchIndex:
        """Index ``script`` by branch; every revision must descend from a labelled root."""
        revisions: dict[str, frozenset[str]] = {}
        for branch in BRANCHES:
            try:
                members = script.iterate_revisions(f"{branch}@head", "base")
                revisions[branch] = frozenset(rev.revision for rev in members)
            except CommandError:
                revisions[branch] = frozenset()
        return cls(revisions)

    def branch_of(self, revision_id: str) -> str | None:
        """The branch holding ``revision_id``, or None if it is in neither."""
        for branch, members in self.revisions.items():
            if revision_id in members:
                return branch
        return None

    def step_belongs(self, step: MigrationStep, branch: str) -> bool:
        """True if a planned migration or stamp step moves ``branch``."""
        members = self.revisions[branch]
        if isinstance(step, RevisionStep):
            return step.revision.revision in members
        if isinstance(step, StampStep):
            return any(rev in members for rev in (*step.from_, *step.to_))
        return True

    def restrict(
        self, step_function: StepFunction, branch: str, *, extra_heads: Sequence[str] = ()
    ) -> StepFunction:
        """Wrap a command's step function so it only plans ``branch``'s steps.

        ``extra_heads`` are added to the heads Alembic passes in. Autogenerate needs this: it
        insists the database holds every head of the script directory, but each version
        table only ever holds its own branch's head.
        """

        def restricted(heads: Any, context: Any) -> list[Any]:
            current = tuple(heads or ()) + tuple(extra_heads)
            steps = step_function(current, context)
            return [step for step in steps if self.step_belongs(step, branch)]

        return restricted

    def heads_of(self, script: ScriptDirectory, branch: str) -> tuple[str, ...]:
        """The head revision ids of ``branch``."""
        return tuple(head for head in script.get_heads() if head in self.revisions[branch])

    def branches_for_target(self, script: ScriptDirectory, target: Any) -> frozenset[str]:
        """Which branches a revision argument such as ``tenant@-1`` or ``heads`` addresses.

        ``None``, ``heads`` and ``base`` address both. ``core@...`` and ``tenant@...`` address
        one. A revision id (optionally with ``+N``/``-N``) addresses the branch it is in. A bare
        ``+1`` or ``-1`` is refused: with two branches it is ambiguous.
        """
        if target is None:
            return frozenset(BRANCHES)
        parts = (target,) if isinstance(target, str) else tuple(target)
        found: set[str] = set()
        for part in parts:
            for piece in str(part).split(":"):
                found |= self._branches_for_piece(script, piece)
        return frozenset(found)

    def _branches_for_piece(self, script: ScriptDirectory, piece: str) -> frozenset[str]:
        """Branches of one revision argument with no ``:`` range in it."""
        if piece in ("", "heads", "head", "base"):
            return frozenset(BRANCHES)
        label, at, _ = piece.partition("@")
        if at and label in BRANCHES:
            return frozenset({label})
        match = _RELATIVE_SUFFIX.match(label if at else piece)
        base = match.group("base") if match else piece
        if not base:
            raise RevisionTargetError(
                f"revision argument {piece!r} is ambiguous with two branches; name one, "
                "e.g. core@-1 or tenant@-1"
            )
        try:
            revision = script.get_revision(base)
        except CommandError:
            return frozenset(BRANCHES)  # unknown id: let Alembic report it in its own words
        branch = self.branch_of(revision.revision) if revision is not None else None
        return frozenset({branch}) if branch else frozenset(BRANCHES)
