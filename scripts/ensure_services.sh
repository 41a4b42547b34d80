#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and RabbitMQ answer on this machine: start them when
# stopped, install them from Debian packages when absent (as root), otherwise say
# exactly what is missing. Skips a service whose URL points at another host.
set -euo pipefail

say() { printf '[services] %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 "${2:-60}"); do port_open "$1" && return 0; sleep 1; done; return 1; }

apt_install() {
  if ! is_root; then
    say "missing: $* (install them, or run this as root to let the script install them)"; return 1
  fi
  say "installing $* from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /tmp/.taskforge_apt_updated ]; then apt-get update -qq && touch /tmp/.taskforge_apt_updated; fi
  apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if port_open 5432; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql postgresql-contrib || exit 1; fi
  say "starting PostgreSQL"
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  wait_port 5432 30 || { say "PostgreSQL did not start (see /var/log/postgresql/)"; exit 1; }
  # Local stack: trust on loopback for the project's roles (and the superuser that
  # bootstrap_db uses), as on the CI machines. Production uses passwords in the URLs.
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  local rule='host all postgres,taskforge_owner,taskforge_app,taskforge_backup 127.0.0.1/32 trust'
  if is_root && ! grep -qF "$rule" "$hba" && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i "1i $rule" "$hba"
    runuser -u postgres -- psql -qc 'SELECT pg_reload_conf()' >/dev/null
  fi
}

ensure_redis() {
  if port_open 6379; then return 0; fi
  command -v redis-server >/dev/null || apt_install redis-server || exit 1
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379 15 || { say "Redis did not start"; exit 1; }
}

ensure_rabbitmq() {
  if port_open 5672; then return 0; fi
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server || exit 1
  say "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_port 5672 90 || { say "RabbitMQ did not start"; exit 1; }
}

ensure_venv() {
  # Debian's python3.X needs its -venv package before `python -m venv` works.
  local py="${PYTHON:-python3.11}"
  "$py" -c 'import ensurepip, venv' 2>/dev/null && return 0
  apt_install "$("$py" -c 'import sys; print(f"python3.{sys.version_info.minor}-venv")')" || exit 1
}

ensure_chromium() {
  command -v chromium >/dev/null && return 0
  apt_install chromium || say "warning: chromium could not be installed; browser tests will fail"
}

ensure_axe() {
  # axe-core (accessibility tests) from the npm registry, pinned in package.json and
  # package-lock.json, into node_modules/ (git-ignored; Playwright injects it into pages).
  local root; root="$(cd "$(dirname "$0")/.." && pwd)"
  command -v npm >/dev/null || apt_install nodejs npm || { say "warning: npm missing; the accessibility tests will fail"; return 0; }
  local want; want=$(sed -n 's/.*"axe-core": "\([0-9.]*\)".*/\1/p' "$root/package.json")
  local have; have=$(sed -n 's/^ *"version": "\([0-9.]*\)".*/\1/p' "$root/node_modules/axe-core/package.json" 2>/dev/null | head -1 || true)
  [ -n "$want" ] && [ "$want" = "$have" ] && return 0
  say "installing axe-core $want (npm ci)"
  (cd "$root" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || say "warning: axe-core could not be installed; the accessibility tests will fail"
}

for target in "${@:-postgres redis rabbitmq}"; do
  for t in $target; do
    case "$t" in
      postgres) ensure_postgres ;;
      redis) ensure_redis ;;
      rabbitmq) ensure_rabbitmq ;;
      chromium) ensure_chromium ;;
      axe) ensure_axe ;;
      venv) ensure_venv ;;
      *) say "unknown service $t"; exit 2 ;;
    esac
  done
done
say "ready: ${*:-postgres redis rabbitmq}"
