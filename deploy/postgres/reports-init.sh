#!/bin/sh
# TaskForge: configure a freshly initialised cluster as the reports database.
#
# Installs reports.conf (takes effect at the next (re)start). The subscription itself
# is created later by reports-subscribe.sh, once the primary has its schema.
#
# Used two ways, with the same files:
#   * docker compose: /docker-entrypoint-initdb.d/10-reports-init.sh of postgres-reports;
#   * deploy/replication/verify.py, before it first starts the reports cluster.
#
# Environment: PGDATA (required); TASKFORGE_PG_CONF_DIR (default /etc/taskforge/postgres).
# May be sourced by the docker entrypoint: no `exit`, no `set -u`.

set -e

: "${PGDATA:?PGDATA must be set}"
tf_conf_dir=${TASKFORGE_PG_CONF_DIR:-/etc/taskforge/postgres}

cp "$tf_conf_dir/reports.conf" "$PGDATA/taskforge-reports.conf"
if ! grep -q "^include 'taskforge-reports.conf'" "$PGDATA/postgresql.conf"; then
    printf "\n# TaskForge (deploy/postgres/reports.conf)\ninclude 'taskforge-reports.conf'\n" >>"$PGDATA/postgresql.conf"
fi
echo "reports-init.sh: configured $PGDATA"
