#!/bin/sh
# TaskForge: turn a freshly initialised cluster into the replication primary.
#
# Used two ways, with the same files:
#   * docker compose: mounted as /docker-entrypoint-initdb.d/10-primary-init.sh; the
#     postgres image runs it once, against its temporary init server, then restarts
#     the server, which picks up the configuration below.
#   * deploy/replication/verify.py: run against a throw-away loopback cluster, which
#     verify.py then restarts.
#
# It (1) installs primary.conf, (2) puts pg_hba.taskforge.conf at the top of
# pg_hba.conf, (3) runs primary-init.sql (replication role, physical slot,
# publication). Settings from (1) and (2) take effect at the next (re)start.
#
# Environment:
#   PGDATA                    data directory (required)
#   REPLICATION_PASSWORD      password of the replication role (required)
#   REPLICATION_USER          default replicator
#   REPLICATION_SLOT          default taskforge_standby
#   PUBLICATION               default taskforge_reports
#   REPLICATION_ALLOWED_CIDR  default samenet
#   POSTGRES_USER / POSTGRES_DB  superuser and application database (postgres / taskforge)
#   TASKFORGE_PG_CONF_DIR     where the deploy/postgres files are (default /etc/taskforge/postgres)
#   PGHOST / PGPORT           how psql reaches the server (default: local socket, 5432)
#
# The docker entrypoint may source this file instead of executing it, so it does not
# call `exit`, does not `set -u`, and prefixes its variables.

set -e

: "${PGDATA:?PGDATA must be set}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
tf_conf_dir=${TASKFORGE_PG_CONF_DIR:-/etc/taskforge/postgres}
tf_repl_user=${REPLICATION_USER:-replicator}
tf_slot=${REPLICATION_SLOT:-taskforge_standby}
tf_publication=${PUBLICATION:-taskforge_reports}
tf_cidr=${REPLICATION_ALLOWED_CIDR:-samenet}
tf_db=${POSTGRES_DB:-taskforge}
tf_superuser=${POSTGRES_USER:-postgres}

for tf_file in primary.conf pg_hba.taskforge.conf primary-init.sql; do
    if [ ! -r "$tf_conf_dir/$tf_file" ]; then
        echo "primary-init.sh: $tf_conf_dir/$tf_file is missing (set TASKFORGE_PG_CONF_DIR)" >&2
        false
    fi
done

# (1) configuration
cp "$tf_conf_dir/primary.conf" "$PGDATA/taskforge-primary.conf"
if ! grep -q "^include 'taskforge-primary.conf'" "$PGDATA/postgresql.conf"; then
    printf "\n# TaskForge (deploy/postgres/primary.conf)\ninclude 'taskforge-primary.conf'\n" >>"$PGDATA/postgresql.conf"
fi

# (2) client authentication for the replication role, first match wins
if ! grep -q '^# BEGIN taskforge replication' "$PGDATA/pg_hba.conf"; then
    {
        echo '# BEGIN taskforge replication (deploy/postgres/pg_hba.taskforge.conf)'
        sed -e "s|@REPLICATION_USER@|$tf_repl_user|g" \
            -e "s|@POSTGRES_DB@|$tf_db|g" \
            -e "s|@REPLICATION_ALLOWED_CIDR@|$tf_cidr|g" \
            "$tf_conf_dir/pg_hba.taskforge.conf"
        echo '# END taskforge replication'
        cat "$PGDATA/pg_hba.conf"
    } >"$PGDATA/pg_hba.conf.new"
    mv "$PGDATA/pg_hba.conf.new" "$PGDATA/pg_hba.conf"
    chmod 0600 "$PGDATA/pg_hba.conf"
fi

# (3) role, slot, publication (primary-init.sql reads REPLICATION_PASSWORD itself)
REPLICATION_PASSWORD="$REPLICATION_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 \
    --username "$tf_superuser" --dbname "$tf_db" \
    -v repl_user="$tf_repl_user" \
    -v slot_name="$tf_slot" \
    -v publication="$tf_publication" \
    -f "$tf_conf_dir/primary-init.sql"

echo "primary-init.sh: configured $PGDATA (role $tf_repl_user, slot $tf_slot, publication $tf_publication)"
