"""Reports: a star schema loaded by an ETL job, staff report pages, and the admin System page.

An app without models or migrations: the star schema is plain, idempotent SQL DDL
(`reports/schema.py`) that the ETL runs itself, in the schema `star`

* of the reports database when `DATABASE_REPORTS_URL` is set (the `reports` alias; the
  ETL connects with those credentials, which must be allowed to create a schema there);
* otherwise of the default database, created and loaded by the owner role
  (`DATABASE_OWNER_URL`), with SELECT granted to the application and backup roles.

The ETL reads the source tables on the primary as the backup role (`DATABASE_BACKUP_URL`:
BYPASSRLS, read-only) in one repeatable-read snapshot, so row-level security does not
hide bookings from it. Pages read the star schema through the router inside
`replica_reads()`: the reports database when configured, else the hot standby when
configured, else the primary.

Modules: schema (DDL), etl (extract + load), selectors (report queries), charts (SVG),
forms (filters), system (figures of the System page), views, urls, jobs (Celery).
"""
