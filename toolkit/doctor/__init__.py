"""``tenantctl doctor``: what is wrong or worth knowing, and the command that fixes it.

Each check reads the catalogs and ``core`` only; the doctor changes nothing. Problems
(severity ``problem``, exit 3): tenants stuck in ``provisioning``, orphan rows (registered
tenants without a schema), orphan schemas (tenant schemas nobody registered), interrupted
drops and restores, version records that differ from the version tables, core or tenants
behind head, a stale template, foreign keys without an index on a table of 1 MB or more,
schema ``public`` writable by PUBLIC, and a largest tenant near or above what one
transaction can lock. Information (severity ``info``, never exit 3 alone): relations per
tenant and in total, catalog size, lock headroom, archived tenants behind head, foreign
keys without an index on smaller tables. One module per group of checks; ``run`` calls
them in order.
"""

from toolkit.doctor.findings import Finding, Severity, problems
from toolkit.doctor.run import diagnose

__all__ = ["Finding", "Severity", "diagnose", "problems"]
