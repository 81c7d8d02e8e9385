"""Sample data: the tenants acme, globex and initech, filled with rows for demos and tests."""

from __future__ import annotations

from toolkit.errors import SeedFailed
from toolkit.seed.loader import SeededTenant, SeedOutcome, SeedReport, seed_sample_data
from toolkit.seed.samples import (
    API_KEY_SCOPES,
    DEMO_PASSWORD,
    SAMPLE_TENANTS,
    SEED_ACTOR,
    SampleTenant,
)

__all__ = [
    "API_KEY_SCOPES",
    "DEMO_PASSWORD",
    "SAMPLE_TENANTS",
    "SEED_ACTOR",
    "SampleTenant",
    "SeedFailed",
    "SeedOutcome",
    "SeedReport",
    "SeededTenant",
    "seed_sample_data",
]
