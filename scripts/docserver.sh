#!/usr/bin/env bash
# Start or stop the local document server: SecantusDB (the MongoDB wire protocol over
# WiredTiger, development only), with its data under var/docserver. Does nothing when
# MONGODB_URI is set: production points it at MongoDB 7 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${DOCSERVER_PORT:-27017}"
PIDFILE=var/docserver.pid
mkdir -p var/docserver

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
ping() {
  .venv/bin/python - "$PORT" <<'PY' 2>/dev/null
import sys
from pymongo import MongoClient
MongoClient(port=int(sys.argv[1]), serverSelectionTimeoutMS=500, directConnection=True).admin.command("ping")
PY
}

case "${1:-start}" in
  start)
    if [ -n "${MONGODB_URI:-}" ]; then echo "[docserver] MONGODB_URI is set; not starting SecantusDB"; exit 0; fi
    if ping; then echo "[docserver] already answering on 127.0.0.1:$PORT"; exit 0; fi
    nohup .venv/bin/secantusd-py --host 127.0.0.1 --port "$PORT" --storage-path var/docserver \
      --log-level WARNING >>var/docserver.log 2>&1 &
    echo $! > "$PIDFILE"
    # Ready means a ping answers, not merely an open port.
    for _ in $(seq 1 120); do ping && { echo "[docserver] SecantusDB on 127.0.0.1:$PORT"; exit 0; }; sleep 0.25; done
    echo "[docserver] SecantusDB did not answer a ping; see var/docserver.log"; exit 1 ;;
  stop)
    # SIGTERM, then SIGKILL: its exit takes about 2 s, and it can hang if signalled while starting.
    if running; then
      pid=$(cat "$PIDFILE"); kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"; echo "[docserver] stopped"
    fi ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
