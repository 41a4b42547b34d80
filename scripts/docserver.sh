#!/usr/bin/env bash
# Start or stop the local document server (nx-27017, MongoDB wire protocol on SQLite)
# with its data under var/docserver. Does nothing when MONGODB_URI points elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${DOCSERVER_PORT:-27017}"
PIDFILE=var/docserver.pid
mkdir -p var/docserver

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

case "${1:-start}" in
  start)
    if [ -n "${MONGODB_URI:-}" ]; then echo "[docserver] MONGODB_URI is set; not starting nx-27017"; exit 0; fi
    if running || port_open; then echo "[docserver] already answering on 127.0.0.1:$PORT"; exit 0; fi
    nohup .venv/bin/nx-27017 --host 127.0.0.1 -p "$PORT" --data-dir var/docserver \
      --log-file var/docserver.log --pid-file var/docserver.nx.pid >>var/docserver.log 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 50); do port_open && { echo "[docserver] nx-27017 on 127.0.0.1:$PORT"; exit 0; }; sleep 0.2; done
    echo "[docserver] nx-27017 did not start; see var/docserver.log"; exit 1 ;;
  stop)
    if running; then kill "$(cat "$PIDFILE")" && rm -f "$PIDFILE"; echo "[docserver] stopped"; fi ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
