#!/usr/bin/env bash
# Make sure the services the tests need, besides PostgreSQL, are there: the PgBouncer binary
# (tests start their own instances; no system service is left running) and a Redis that answers
# at 127.0.0.1:6379. Idempotent; run as root on Debian (bookworm). `.ci/run` calls it after
# PostgreSQL is up and before `make test`.
set -euo pipefail

PGBOUNCER_BIN=/usr/sbin/pgbouncer
PGBOUNCER_SYSTEM_PIDFILE=/run/postgresql/pgbouncer.pid
REDIS_HOST=127.0.0.1
REDIS_PORT="${ENSURE_REDIS_PORT:-6379}"  # another port only to try the script itself
REDIS_WAIT_SECONDS=30

say() { echo "ensure_services: $*"; }
die() { echo "ensure_services: error: $*" >&2; exit 1; }

apt_updated=no
# Install Debian packages without letting their maintainer scripts start services: a policy-rc.d
# that says "no" (exit 101) is Debian's documented switch, removed again when we are done.
apt_install() {
  [ "$(id -u)" -eq 0 ] || die "installing $* needs root: run 'sudo bash scripts/ensure_services.sh'"
  local policy=/usr/sbin/policy-rc.d own_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=yes
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if [ "$apt_updated" = no ]; then
    apt-get update -q
    apt_updated=yes
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" || status=$?
  if [ "$own_policy" = yes ]; then rm -f "$policy"; trap - EXIT; fi
  [ "$status" -eq 0 ] || die "apt-get install $* failed (exit $status)"
}

# A system pgbouncer started by the package (or left from an earlier install) would hold port
# 6432 and pool connections nobody asked for; the tests start their own instances.
stop_system_pgbouncer() {
  [ -f "$PGBOUNCER_SYSTEM_PIDFILE" ] || return 0
  local pid
  pid="$(cat "$PGBOUNCER_SYSTEM_PIDFILE")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "stopping the system pgbouncer service (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PGBOUNCER_SYSTEM_PIDFILE"
}

ensure_pgbouncer() {
  if [ ! -x "$PGBOUNCER_BIN" ]; then
    say "installing pgbouncer"
    apt_install pgbouncer
    [ -x "$PGBOUNCER_BIN" ] || die "pgbouncer installed but $PGBOUNCER_BIN is missing"
  fi
  stop_system_pgbouncer
  say "$("$PGBOUNCER_BIN" --version | head -1)"
}

redis_answers() {
  command -v redis-cli >/dev/null 2>&1 &&
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

ensure_redis() {
  if redis_answers; then
    say "redis answers at $REDIS_HOST:$REDIS_PORT"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    say "installing redis-server"
    apt_install redis-server
  fi
  if ! redis_answers; then
    say "starting redis-server on $REDIS_HOST:$REDIS_PORT"
    mkdir -p /var/lib/redis /var/log/redis
    # Nothing is kept on disk: tests need a cache, not a database.
    redis-server --daemonize yes --bind "$REDIS_HOST" -::1 --port "$REDIS_PORT" \
      --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  for _ in $(seq 1 $((REDIS_WAIT_SECONDS * 10))); do
    redis_answers && { say "redis answers at $REDIS_HOST:$REDIS_PORT"; return 0; }
    sleep 0.1
  done
  die "redis does not answer PONG at $REDIS_HOST:$REDIS_PORT after ${REDIS_WAIT_SECONDS}s;" \
    "see /var/log/redis/ci.log"
}

ensure_pgbouncer
ensure_redis
