#!/bin/sh
# TaskForge: create or refresh the reports database's subscription to the primary.
#
# Logical replication copies rows, not DDL, so before subscribing this script copies
# the definition of every published table that the reports database lacks:
#   pg_dump --schema-only of those tables on the primary, restored with only the
#   TABLE / SEQUENCE / DEFAULT / CONSTRAINT entries (columns, primary keys, unique and
#   check constraints). Left out on purpose: triggers (the audit functions live on the
#   primary only), row-level-security policies (they name application roles and
#   functions), foreign keys and secondary indexes (reports adds its own).
# Then it runs reports-subscription.sql: CREATE SUBSCRIPTION the first time,
# ALTER SUBSCRIPTION ... REFRESH PUBLICATION afterwards. Run it after every migration
# that adds tables; columns added to an existing table must be added here by hand
# first (see deploy/README.md, "Upgrade").
#
# Used two ways, with the same files:
#   * docker compose: `docker compose --profile ops run --rm reports-subscribe`;
#   * deploy/replication/verify.py, against loopback clusters.
#
# Environment:
#   PRIMARY_HOST, PRIMARY_PORT (5432)      the primary, as this script reaches it
#   PRIMARY_HOST_FOR_REPORTS               the primary, as the reports server reaches it
#                                          (default PRIMARY_HOST)
#   PRIMARY_PORT_FOR_REPORTS               default PRIMARY_PORT
#   POSTGRES_DB                            application database on the primary (taskforge)
#   REPLICATION_USER (replicator), REPLICATION_PASSWORD (required)
#   PUBLICATION (taskforge_reports), SUBSCRIPTION (taskforge_reports)
#   REPORTS_HOST (required), REPORTS_PORT (5432), REPORTS_DB (taskforge_reports)
#   REPORTS_SUPERUSER (postgres), REPORTS_SUPERUSER_PASSWORD (default POSTGRES_PASSWORD;
#                                          may be empty for a local trusted socket)
#   TASKFORGE_PG_CONF_DIR                  default /etc/taskforge/postgres
#   REPORTS_WAIT_SECONDS                   how long to wait for both servers (60)

set -eu

: "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
: "${REPORTS_HOST:?REPORTS_HOST must be set}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
conf_dir=${TASKFORGE_PG_CONF_DIR:-/etc/taskforge/postgres}
primary_port=${PRIMARY_PORT:-5432}
primary_db=${POSTGRES_DB:-taskforge}
repl_user=${REPLICATION_USER:-replicator}
publication=${PUBLICATION:-taskforge_reports}
subscription=${SUBSCRIPTION:-taskforge_reports}
reports_port=${REPORTS_PORT:-5432}
reports_db=${REPORTS_DB:-taskforge_reports}
reports_user=${REPORTS_SUPERUSER:-postgres}
reports_password=${REPORTS_SUPERUSER_PASSWORD:-${POSTGRES_PASSWORD:-}}
wait_seconds=${REPORTS_WAIT_SECONDS:-60}

primary_psql() {
    PGPASSWORD="$REPLICATION_PASSWORD" psql -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$PRIMARY_HOST" -p "$primary_port" -U "$repl_user" -d "$primary_db" "$@"
}

reports_psql() {
    PGOPTIONS='-c client_min_messages=warning' PGPASSWORD="$reports_password" psql -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$REPORTS_HOST" -p "$reports_port" -U "$reports_user" -d "$reports_db" "$@"
}

wait_ready() { # host port
    waited=0
    until pg_isready -q -h "$1" -p "$2"; do
        waited=$((waited + 1))
        if [ "$waited" -ge "$wait_seconds" ]; then
            echo "reports-subscribe.sh: $1:$2 not ready after ${wait_seconds}s" >&2
            exit 1
        fi
        sleep 1
    done
}

# A value for a libpq connection string: single-quoted, with \ and ' escaped.
conninfo_value() {
    printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

wait_ready "$PRIMARY_HOST" "$primary_port"
wait_ready "$REPORTS_HOST" "$reports_port"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# 1. Which published tables does the reports database not have yet?
primary_psql -v publication="$publication" >"$work/published" <<'SQL'
SELECT format('%I.%I', schemaname, tablename)
FROM pg_publication_tables WHERE pubname = :'publication' ORDER BY 1;
SQL
reports_psql >"$work/existing" <<'SQL'
SELECT format('%I.%I', schemaname, tablename)
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;
SQL
grep -vxF -f "$work/existing" "$work/published" >"$work/missing" || true

# 2. Copy their definitions (schemas first; pg_dump -t does not emit CREATE SCHEMA).
if [ -s "$work/missing" ]; then
    echo "reports-subscribe.sh: copying $(wc -l <"$work/missing") table definition(s) from the primary"
    primary_psql -v publication="$publication" >"$work/schemas.sql" <<'SQL'
SELECT DISTINCT format('CREATE SCHEMA IF NOT EXISTS %I;', schemaname)
FROM pg_publication_tables WHERE pubname = :'publication';
SQL
    reports_psql -f "$work/schemas.sql" >/dev/null
    set --
    while IFS= read -r table; do
        set -- "$@" --table="$table"
    done <"$work/missing"
    PGPASSWORD="$REPLICATION_PASSWORD" pg_dump --schema-only --no-owner --no-privileges \
        --format=custom --file="$work/schema.dump" \
        -h "$PRIMARY_HOST" -p "$primary_port" -U "$repl_user" -d "$primary_db" "$@"
    pg_restore --list "$work/schema.dump" \
        | grep -E '^[0-9]+; [0-9]+ [0-9]+ (TABLE|SEQUENCE|SEQUENCE OWNED BY|DEFAULT|CONSTRAINT|CHECK CONSTRAINT) ' \
        >"$work/toc.list" || true
    PGPASSWORD="$reports_password" pg_restore --no-owner --no-privileges --exit-on-error \
        --single-transaction --use-list="$work/toc.list" \
        -h "$REPORTS_HOST" -p "$reports_port" -U "$reports_user" -d "$reports_db" "$work/schema.dump"
fi

# 3. Subscribe (or refresh). The connection string goes through the environment.
TASKFORGE_SUBSCRIPTION_CONNINFO="host=$(conninfo_value "${PRIMARY_HOST_FOR_REPORTS:-$PRIMARY_HOST}")\
 port=$(conninfo_value "${PRIMARY_PORT_FOR_REPORTS:-$primary_port}")\
 dbname=$(conninfo_value "$primary_db")\
 user=$(conninfo_value "$repl_user")\
 password=$(conninfo_value "$REPLICATION_PASSWORD")"
export TASKFORGE_SUBSCRIPTION_CONNINFO
reports_psql -v subscription="$subscription" -v publication="$publication" \
    -f "$conf_dir/reports-subscription.sql"
unset TASKFORGE_SUBSCRIPTION_CONNINFO

echo "reports-subscribe.sh: subscription $subscription on $reports_db follows publication $publication"
