"""Column types shared by the core and tenant models, as ``Annotated`` aliases."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Identity, Numeric, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import mapped_column

UuidPk = Annotated[
    uuid.UUID,
    mapped_column(
        UUID(as_uuid=True),
        primary_key=True,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
    ),
]
BigIntPk = Annotated[int, mapped_column(BigInteger, Identity(always=False), primary_key=True)]
Timestamp = Annotated[datetime.datetime, mapped_column(DateTime(timezone=True))]
Money = Annotated[decimal.Decimal, mapped_column(Numeric(12, 2))]
JsonObject = Annotated[
    dict[str, Any], mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
]
JsonArray = Annotated[
    list[Any], mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
]
TextList = Annotated[
    list[str], mapped_column(ARRAY(String), nullable=False, server_default=text("'{}'"))
]
Email = Annotated[str, mapped_column(String(320))]
