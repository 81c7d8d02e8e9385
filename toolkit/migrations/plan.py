"""Plan a run over tenants: group them by current revision and prepare each group's work once.

Tenants at the same revisions share the same steps. Each group's SQL is rendered once and
replayed per schema; a group whose steps cannot be rendered runs through Alembic per tenant.
Revision ids and the SQL travel to worker processes, which never rebuild the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from alembic.runtime.migration import MigrationStep, RevisionStep, StampStep
from alembic.script import ScriptDirectory

from toolkit.errors import ConfigurationError
from toolkit.migrations.apply import GroupScript
from toolkit.migrations.branches import BranchIndex, StepFunction
from toolkit.migrations.checksums import record_sql, revision_files
from toolkit.migrations.events import PlanGroup
from toolkit.migrations.render import render_statements
from toolkit.registry import TenantRecord


@dataclass
class TenantPlan:
    """Groups of tenants with work to do, and the tenants already at the target."""

    groups: list[GroupScript] = field(default_factory=list)
    members: list[list[TenantRecord]] = field(default_factory=list)
    up_to_date: list[TenantRecord] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    @property
    def planned(self) -> int:
        """How many tenants have work to do."""
        return sum(len(members) for members in self.members)

    def summary(self) -> tuple[PlanGroup, ...]:
        """The plan as events show it."""
        return tuple(
            PlanGroup(
                from_revisions=group.from_revisions,
                to_revisions=group.to_revisions,
                revisions=group.revisions,
                rendered=group.sql is not None,
                schemas=tuple(record.database_schema for record in members),
            )
            for group, members in zip(self.groups, self.members, strict=True)
        )


def end_revisions(from_revisions: Sequence[str], steps: Sequence[MigrationStep]) -> tuple[str, ...]:
    """The revisions a schema holds after ``steps``, starting at ``from_revisions``."""
    heads = set(from_revisions)
    for step in steps:
        if isinstance(step, RevisionStep | StampStep):
            heads -= set(step.from_revisions)
            heads |= set(step.to_revisions)
    return tuple(sorted(heads))


def plan_tenants(
    step_function: StepFunction,
    records: Sequence[TenantRecord],
    versions: Mapping[str, tuple[str, ...]],
) -> TenantPlan:
    """Group ``records`` by their revisions in ``versions`` and plan each group once.

    ``order`` keeps the tenants with work in the order of ``records``: canaries and shards
    depend on it.
    """
    by_revisions: dict[tuple[str, ...], list[TenantRecord]] = {}
    for record in records:
        by_revisions.setdefault(versions.get(record.database_schema, ()), []).append(record)
    plan = TenantPlan()
    for from_revisions, members in by_revisions.items():
        steps = list(step_function(from_revisions, None))
        if not steps:
            plan.up_to_date.extend(members)
            continue
        plan.groups.append(_group_script(from_revisions, steps))
        plan.members.append(members)
    planned = {record.database_schema for members in plan.members for record in members}
    plan.order = [record.database_schema for record in records if record.database_schema in planned]
    return plan


def _group_script(from_revisions: tuple[str, ...], steps: Sequence[MigrationStep]) -> GroupScript:
    statements = render_statements(steps, from_revisions)
    if statements is None and not all(isinstance(step, RevisionStep) for step in steps):
        raise ConfigurationError(
            f"the plan from {', '.join(from_revisions) or 'base'} mixes stamps with revisions "
            "that must run through Alembic; stamp and migrate in separate commands"
        )
    return GroupScript(
        from_revisions=from_revisions,
        to_revisions=end_revisions(from_revisions, steps),
        sql="\n;\n".join(statements) if statements else None,
        steps=tuple(
            (step.revision.revision, step.is_upgrade)
            for step in steps
            if isinstance(step, RevisionStep)
        ),
        record_sql=None,
    )


def with_checksums(plan: TenantPlan, script: ScriptDirectory, index: BranchIndex) -> TenantPlan:
    """The plan with each group recording the checksums of the revisions it applies."""
    groups = []
    for group in plan.groups:
        applied = [revision for revision, is_upgrade in group.steps if is_upgrade]
        groups.append(replace(group, record_sql=record_sql(revision_files(script, index, applied))))
    return replace(plan, groups=groups)
