"""The model rows of one sample tenant, in core and in its schema, added in dependency order."""

from __future__ import annotations

import datetime
import decimal
import hashlib
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    CORE_SCHEMA,
    CanvasConfig,
    DesignImage,
    EtsyProductTemplate,
    SizeConfig,
    SubscriptionStatus,
    Tenant,
    TenantApiKey,
    TenantSubscription,
    TenantUser,
    User,
)
from toolkit.api_keys.keys import generate_key
from toolkit.passwords import hash_password
from toolkit.seed.activity import mockup_rows, order_rows
from toolkit.seed.samples import API_KEY_SCOPES, DEMO_PASSWORD, SEED_ACTOR, SampleTenant

_CORE_MODELS = (TenantUser, TenantSubscription, TenantApiKey)


def load_rows(
    session: Session, sample: SampleTenant, now: datetime.datetime
) -> tuple[dict[str, int], str]:
    """Add every sample row of one tenant to ``session``; returns row counts and the API key.

    Rows are flushed in dependency order, since mockups need the ids of templates, designs,
    canvases and sizes. The caller owns the transaction.
    """
    tenant_id = session.scalars(select(Tenant.id).where(Tenant.subdomain == sample.subdomain)).one()
    key = generate_key()
    core_rows: list[Any] = [
        *_admins(sample, tenant_id, now),
        _subscription(sample, tenant_id, now),
        TenantApiKey(
            tenant_id=tenant_id,
            name="Storefront sync (sample)",
            key_id=key.key_id,
            key_hash=key.key_hash,
            scopes=list(API_KEY_SCOPES),
            expires_at=now + datetime.timedelta(days=365),
        ),
    ]
    users = _users(sample)
    session.add_all([*core_rows, *users])
    session.flush()
    templates = _templates(sample, owner_id=users[0].id)
    designs = _designs(sample, uploaded_by=[user.id for user in users], now=now)
    canvases = _canvases(sample)
    sizes = [size for canvas in canvases for size in canvas.sizes]
    session.add_all([*templates, *designs, *canvases])
    session.flush()
    mockups = mockup_rows(templates, designs, canvases, now)
    orders = order_rows(sample, templates, now)
    session.add_all([*mockups, *orders])
    session.flush()
    loaded = [*core_rows, *users, *templates, *designs, *canvases, *sizes, *mockups, *orders]
    return dict(Counter(_table_label(row) for row in loaded)), key.plaintext


def _table_label(row: Any) -> str:
    """``core.<table>`` for a core row, the bare table name for a tenant row."""
    name: str = row.__tablename__
    return f"{CORE_SCHEMA}.{name}" if isinstance(row, _CORE_MODELS) else name


def _admins(sample: SampleTenant, tenant_id: uuid.UUID, now: datetime.datetime) -> list[TenantUser]:
    """The tenant's admins in ``core.tenant_users``; each password hash has its own salt."""
    return [
        TenantUser(
            tenant_id=tenant_id,
            email=sample.email(admin),
            password_hash=hash_password(DEMO_PASSWORD),
            role=admin.role.value,
            is_active=True,
            last_login_at=now - datetime.timedelta(hours=20) if index == 0 else None,
        )
        for index, admin in enumerate(sample.admins)
    ]


def _subscription(
    sample: SampleTenant, tenant_id: uuid.UUID, now: datetime.datetime
) -> TenantSubscription:
    """The current billing period: a 14-day trial or a month; free plans are not billed."""
    trial = sample.subscription_status is SubscriptionStatus.TRIALING
    start = now - datetime.timedelta(days=3 if trial else 12)
    billed = sample.plan != "free"
    return TenantSubscription(
        tenant_id=tenant_id,
        plan=sample.plan,
        status=sample.subscription_status.value,
        current_period_start=start,
        current_period_end=start + datetime.timedelta(days=14 if trial else 30),
        seats=sample.seats,
        external_billing_id=f"sub_sample_{sample.subdomain}_{sample.plan}" if billed else None,
    )


def _users(sample: SampleTenant) -> list[User]:
    return [
        User(
            email=sample.email(person),
            full_name=person.name,
            role=person.role.value,
            is_active=True,
            preferences={"locale": "en-US", "units": "in", "email_digest": "weekly"},
            created_by=SEED_ACTOR,
            updated_by=SEED_ACTOR,
        )
        for person in sample.users
    ]


def _templates(sample: SampleTenant, *, owner_id: int) -> list[EtsyProductTemplate]:
    return [
        EtsyProductTemplate(
            owner_id=owner_id,
            title=product.title,
            description=product.description,
            tags=list(product.tags),
            materials=list(product.materials),
            price=decimal.Decimal(product.price),
            currency="USD",
            shop_section=product.section,
            extra={"who_made": "i_did", "when_made": "made_to_order", "is_supply": False},
            created_by=SEED_ACTOR,
            updated_by=SEED_ACTOR,
        )
        for product in sample.products
    ]


# Pixel sizes given to the sample designs, in turn: print-ready, large, and one too small.
_DESIGN_SIZES = ((4500, 5400), (3600, 4800), (2400, 3000))


def _designs(
    sample: SampleTenant, *, uploaded_by: Sequence[int], now: datetime.datetime
) -> list[DesignImage]:
    designs = []
    for index, slug in enumerate(sample.designs):
        width, height = _DESIGN_SIZES[index % len(_DESIGN_SIZES)]
        path = f"designs/{sample.subdomain}/{slug}.png"
        designs.append(
            DesignImage(
                uploaded_by_id=uploaded_by[index % len(uploaded_by)],
                file_path=path,
                checksum=hashlib.sha256(path.encode()).hexdigest(),
                width=width,
                height=height,
                dpi=300,
                tags=slug.split("-"),
                extra={
                    "original_filename": f"{slug}-final.png",
                    "color_mode": "RGB",
                    "uploaded_at": (now - datetime.timedelta(days=20 - index)).isoformat(),
                },
                created_by=SEED_ACTOR,
                updated_by=SEED_ACTOR,
            )
        )
    return designs


def _canvases(sample: SampleTenant) -> list[CanvasConfig]:
    return [
        CanvasConfig(
            name=canvas.name,
            product_type=canvas.product_type,
            width=canvas.width,
            height=canvas.height,
            dpi=300,
            is_active=True,
            sizes=[
                SizeConfig(
                    label=label,
                    width=width,
                    height=height,
                    price_modifier=decimal.Decimal(modifier),
                )
                for label, width, height, modifier in canvas.sizes
            ],
        )
        for canvas in sample.canvases
    ]
