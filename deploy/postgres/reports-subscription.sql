-- TaskForge: the reports database's subscription to the primary's publication.
-- Idempotent; run as a superuser connected to the reports database, by
-- reports-subscribe.sh:
--
--   TASKFORGE_SUBSCRIPTION_CONNINFO='host=... port=5432 dbname=taskforge user=replicator password=...' \
--   psql -X -v ON_ERROR_STOP=1 -d taskforge_reports \
--        -v subscription=taskforge_reports -v publication=taskforge_reports \
--        -f reports-subscription.sql
--
-- The connection string holds a password, so it comes from the environment unless
-- -v conninfo=... is given.
--
-- First run: CREATE SUBSCRIPTION copies the current contents of every published table
-- (copy_data) and then streams changes. Later runs: REFRESH PUBLICATION adds tables
-- that migrations created since (their definitions must already exist here).
-- Neither command may run inside a transaction block, hence \gexec in autocommit mode.

\set ON_ERROR_STOP on
\if :{?conninfo}
\else
    \getenv conninfo TASKFORGE_SUBSCRIPTION_CONNINFO
\endif

SELECT format('ALTER SUBSCRIPTION %I REFRESH PUBLICATION WITH (copy_data = true)', :'subscription')
WHERE EXISTS (SELECT FROM pg_subscription WHERE subname = :'subscription')
\gexec

SELECT format(
    'CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (copy_data = true, slot_name = %L)',
    :'subscription', :'conninfo', :'publication', :'subscription')
WHERE NOT EXISTS (SELECT FROM pg_subscription WHERE subname = :'subscription')
\gexec
