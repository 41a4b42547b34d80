-- TaskForge: replication objects on the primary. Idempotent; run as a superuser,
-- connected to the application database, by primary-init.sh:
--
--   REPLICATION_PASSWORD=... psql -X -v ON_ERROR_STOP=1 -d taskforge \
--        -v repl_user=replicator -v slot_name=taskforge_standby \
--        -v publication=taskforge_reports -f primary-init.sql
--
-- The password comes from the environment (not the command line, where `ps` shows
-- it) unless -v repl_password=... is given. The other variables are required; an
-- unset one is a syntax error, which ON_ERROR_STOP turns into a failure.

\set ON_ERROR_STOP on
\if :{?repl_password}
\else
    \getenv repl_password REPLICATION_PASSWORD
\endif

-- 1. The replication role: streams WAL to the standby and serves the reports
--    subscription. BYPASSRLS because the subscription's initial COPY reads tables
--    that have FORCE ROW LEVEL SECURITY; pg_read_all_data gives it SELECT on every
--    table (present and future) without owning any.
SELECT format('CREATE ROLE %I', :'repl_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'repl_user')
\gexec
ALTER ROLE :"repl_user" WITH LOGIN REPLICATION BYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE
    PASSWORD :'repl_password';
GRANT pg_read_all_data TO :"repl_user";

-- 2. The physical slot the hot standby streams from (pg_basebackup -S <slot>).
--    immediately_reserve => WAL is kept from now on, even before the standby connects.
SELECT pg_create_physical_replication_slot(:'slot_name', true)
WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot_name');

-- 3. The publication the reports database subscribes to. FOR ALL TABLES picks up
--    tables that later migrations add; the subscriber needs their definitions first
--    (reports-subscribe.sh copies them) and then REFRESH PUBLICATION.
SELECT format('CREATE PUBLICATION %I FOR ALL TABLES', :'publication')
WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = :'publication')
\gexec
