#!/usr/bin/env bash
# Starts the local services the test suite uses (PostgreSQL, Redis) if they
# are down, with the same commands the machine image uses. Idempotent.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_up; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
fi
if command -v redis-server >/dev/null 2>&1 && ! redis_up; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
fi
pg_up && echo "services: PostgreSQL up" || echo "services: PostgreSQL not available"
redis_up && echo "services: Redis up" || echo "services: Redis not available"
exit 0
