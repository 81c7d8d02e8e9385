"""Mockup jobs and platform orders of one sample tenant: the rows that use its catalogue."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Sequence

from models import (
    CanvasConfig,
    DesignImage,
    EtsyProductTemplate,
    Mockup,
    MockupStatus,
    Order,
    OrderPlatform,
    OrderStatus,
    SizeConfig,
)
from toolkit.seed.samples import SampleTenant

# Order statuses cycled over a tenant's orders, so each tenant shows a realistic mix.
_ORDER_STATUSES = (
    OrderStatus.COMPLETED,
    OrderStatus.SHIPPED,
    OrderStatus.PAID,
    OrderStatus.OPEN,
    OrderStatus.REFUNDED,
)


def mockup_rows(
    templates: Sequence[EtsyProductTemplate],
    designs: Sequence[DesignImage],
    canvases: Sequence[CanvasConfig],
    now: datetime.datetime,
) -> list[Mockup]:
    """One mockup job in every ``MockupStatus``, then one more finished job per template.

    Template ``i`` is placed on canvas ``i`` (modulo), which the sample data lines up so
    that posters go on the poster canvas and mugs on the mug wrap.
    """
    statuses = [*MockupStatus, *(MockupStatus.DONE for _ in templates)]
    mockups = []
    for index, status in enumerate(statuses):
        slot = index % len(templates)
        template = templates[slot]
        canvas = canvases[slot % len(canvases)]
        design = designs[index % len(designs)]
        size = canvas.sizes[index % len(canvas.sizes)]
        mockup = Mockup(
            template_id=template.id,
            design_id=design.id,
            canvas_id=canvas.id,
            size_id=size.id,
            status=status.value,
        )
        started = now - datetime.timedelta(hours=len(statuses) - index, minutes=7)
        if status is MockupStatus.RUNNING:
            mockup.started_at = now - datetime.timedelta(seconds=40)
        elif status in (MockupStatus.DONE, MockupStatus.FAILED):
            duration_ms = 3200 + 450 * index
            mockup.started_at = started
            mockup.finished_at = started + datetime.timedelta(milliseconds=duration_ms)
            mockup.duration_ms = duration_ms
        if status is MockupStatus.DONE:
            mockup.result_url = (
                f"https://assets.example/mockups/{design.checksum[:12]}/"
                f"{canvas.product_type}-{size.label.replace(' ', '-')}.png"
            )
        elif status is MockupStatus.FAILED:
            mockup.error = _failure(design, canvas, size)
        mockups.append(mockup)
    return mockups


def _failure(design: DesignImage, canvas: CanvasConfig, size: SizeConfig) -> str:
    """A renderer error that is true of the sample rows it is stored with."""
    if design.width < size.width or design.height < size.height:
        return (
            f"design is {design.width}x{design.height} px, below the {size.width}x{size.height}"
            f" px that size {size.label} needs at {canvas.dpi} dpi"
        )
    return f"renderer timed out after 120 s compositing {canvas.name!r} at size {size.label}"


def _external_id(platform: OrderPlatform, index: int) -> str:
    """An order id in the shape each platform uses (Etsy receipt ids are numeric)."""
    if platform is OrderPlatform.ETSY:
        return str(3_104_220_517 + 7_919 * index)
    if platform is OrderPlatform.SHOPIFY:
        return f"#{1041 + index}"
    return f"{platform.value}-{5200 + index}"


def order_rows(
    sample: SampleTenant, templates: Sequence[EtsyProductTemplate], now: datetime.datetime
) -> list[Order]:
    """One order per sample buyer, alternating between the tenant's two platforms."""
    orders = []
    for index, buyer in enumerate(sample.buyers):
        platform = sample.platforms[index % len(sample.platforms)]
        # Odd orders have a second line item: the next template, two of it.
        lines = [(templates[(index + n) % len(templates)], n + 1) for n in range(1 + index % 2)]
        items = [
            {
                "template_id": template.id,
                "title": template.title,
                "quantity": quantity,
                "unit_price": str(template.price),
            }
            for template, quantity in lines
        ]
        total = sum((template.price * quantity for template, quantity in lines), decimal.Decimal(0))
        ordered = now - datetime.timedelta(days=2 * index + 1, hours=3)
        orders.append(
            Order(
                platform=platform.value,
                external_id=_external_id(platform, index),
                buyer_name=buyer,
                buyer_email=f"{_local_part(buyer)}@buyers.example",
                status=_ORDER_STATUSES[index % len(_ORDER_STATUSES)].value,
                total=total,
                currency="USD",
                line_items=items,
                ordered_at=ordered,
                synced_at=ordered + datetime.timedelta(minutes=12),
            )
        )
    return orders


def _local_part(name: str) -> str:
    """``Liam O'Neil`` -> ``liam.oneil``."""
    return ".".join("".join(c for c in word.lower() if c.isalnum()) for word in name.split())
