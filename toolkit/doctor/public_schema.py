"""Schema ``public`` writable by PUBLIC: any role that can connect may create objects there.

A table or function planted in ``public`` is found by every search path that reaches it
(the default one does), a way for one login to catch another's queries. PostgreSQL 15
creates databases with CREATE revoked; older clusters, pg_upgrade and hand-made grants keep
it. What the database allows is read by ``toolkit.isolation.isolation_status``.
"""

from __future__ import annotations

from sqlalchemy import Connection

from toolkit.doctor.findings import Finding
from toolkit.errors import SchemaNotReady
from toolkit.isolation import isolation_status

CHECK_PUBLIC_SCHEMA = "public-schema"


def public_schema_findings(connection: Connection) -> list[Finding]:
    """A problem if PUBLIC may create objects in schema ``public``.

    Before core revision 0006core the isolation status cannot be read; the version check
    then already reports core behind head, so this check says nothing.
    """
    try:
        status = isolation_status(connection)
    except SchemaNotReady:
        return []
    if status.public_create_revoked:
        return []
    return [
        Finding(
            CHECK_PUBLIC_SCHEMA,
            "schema public",
            "PUBLIC may create objects in schema public: any role that can connect can plant "
            "a table or function that search paths reaching public will find",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC (tenantctl security enable does it too)",
        )
    ]
