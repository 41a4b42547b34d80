#!/bin/sh
# TaskForge: seed and run the hot standby.
#
# If $PGDATA holds no cluster yet, clone the primary with
#     pg_basebackup -R -S <slot> -X stream -c fast
# (-R writes primary_conninfo + primary_slot_name and standby.signal; -S streams the
# backup's WAL through the physical slot that primary-init.sql created), then add
# standby.conf. Afterwards exec `postgres "$@"`, unless STANDBY_SETUP_ONLY=1.
#
# Used two ways, with the same files:
#   * docker compose: the postgres-standby service's entrypoint (runs as user postgres);
#   * deploy/replication/verify.py: with STANDBY_SETUP_ONLY=1; verify.py starts the
#     server itself on a loopback port.
#
# Environment:
#   PGDATA                  data directory (required)
#   PRIMARY_HOST            primary's host name or address (required)
#   PRIMARY_PORT            default 5432
#   REPLICATION_PASSWORD    password of the replication role (required)
#   REPLICATION_USER        default replicator
#   REPLICATION_SLOT        default taskforge_standby
#   TASKFORGE_PG_CONF_DIR   where the deploy/postgres files are (default /etc/taskforge/postgres)
#   STANDBY_WAIT_SECONDS    how long to wait for the primary (default 120)
#   STANDBY_SETUP_ONLY      1 = prepare the data directory and stop there
#   PG_BASEBACKUP_EXTRA     extra pg_basebackup options (verify.py: --no-sync)

set -eu

: "${PGDATA:?PGDATA must be set}"
: "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
conf_dir=${TASKFORGE_PG_CONF_DIR:-/etc/taskforge/postgres}
primary_port=${PRIMARY_PORT:-5432}
repl_user=${REPLICATION_USER:-replicator}
slot=${REPLICATION_SLOT:-taskforge_standby}
wait_seconds=${STANDBY_WAIT_SECONDS:-120}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "standby-setup.sh: waiting for the primary at $PRIMARY_HOST:$primary_port"
    waited=0
    until pg_isready -q -h "$PRIMARY_HOST" -p "$primary_port" -U "$repl_user" -d postgres; do
        waited=$((waited + 1))
        if [ "$waited" -ge "$wait_seconds" ]; then
            echo "standby-setup.sh: primary not ready after ${wait_seconds}s" >&2
            exit 1
        fi
        sleep 1
    done

    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    # An interrupted earlier attempt leaves a partial copy; pg_basebackup needs an empty directory.
    find "$PGDATA" -mindepth 1 -delete

    echo "standby-setup.sh: cloning the primary through slot $slot"
    PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
        --host="$PRIMARY_HOST" --port="$primary_port" --username="$repl_user" --no-password \
        --pgdata="$PGDATA" --write-recovery-conf --slot="$slot" \
        --wal-method=stream --checkpoint=fast ${PG_BASEBACKUP_EXTRA:-}

    cp "$conf_dir/standby.conf" "$PGDATA/taskforge-standby.conf"
    printf "\n# TaskForge (deploy/postgres/standby.conf)\ninclude 'taskforge-standby.conf'\n" >>"$PGDATA/postgresql.conf"
    echo "standby-setup.sh: standby data directory ready in $PGDATA"
fi

if [ "${STANDBY_SETUP_ONLY:-0}" = 1 ]; then
    exit 0
fi
exec postgres "$@"
