#!/usr/bin/env bash
# Serve the site with gunicorn, the live-events service (uvicorn, /events/ on PORT+1), a
# Celery worker and beat in the foreground.
# Ctrl-C (or any one of them exiting) stops them all.
set -uo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
export GUNICORN_BIND="${GUNICORN_BIND:-127.0.0.1:$PORT}"
# No nginx here: pages open their event stream on the live service's own port (CORS with
# the session cookie, which browsers send to any port of the same host).
LIVE_PORT="${LIVE_PORT:-$((PORT + 1))}"
LIVE_HOST="${GUNICORN_BIND%:*}"
export LIVE_EVENTS_URL="${LIVE_EVENTS_URL:-http://$LIVE_HOST:$LIVE_PORT/events}"
export LIVE_ALLOWED_ORIGINS="${LIVE_ALLOWED_ORIGINS:-http://$GUNICORN_BIND}"
pids=()
cleanup() { trap - INT TERM EXIT; echo; echo "stopping..."; kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; scripts/docserver.sh stop; }
trap cleanup INT TERM EXIT

.venv/bin/gunicorn -c deploy/gunicorn.conf.py taskforge.wsgi:application & pids+=($!)
.venv/bin/uvicorn live.asgi:application --host "$LIVE_HOST" --port "$LIVE_PORT" --lifespan off --no-access-log & pids+=($!)
.venv/bin/celery -A taskforge worker -l INFO -Q "${CELERY_QUEUE_PREFIX:-}default,${CELERY_QUEUE_PREFIX:-}notifications,${CELERY_QUEUE_PREFIX:-}sync,${CELERY_QUEUE_PREFIX:-}backups" --concurrency 2 & pids+=($!)
.venv/bin/celery -A taskforge beat -l INFO --schedule var/celerybeat-schedule & pids+=($!)

# Print the banner only once the site answers (or say why not).
for _ in $(seq 1 60); do
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://$GUNICORN_BIND/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "gunicorn did not start (is port $PORT free?)"; exit 1; fi
  sleep 0.5
done
echo
echo "  TaskForge is running at http://$GUNICORN_BIND/ (live events: $LIVE_EVENTS_URL/)"
.venv/bin/python manage.py demo_logins
echo "  Ctrl-C stops the web server, the live service, the worker and beat."
echo
wait -n "${pids[@]}"
