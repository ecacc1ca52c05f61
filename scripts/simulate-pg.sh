#!/usr/bin/env bash
# Runs `stampede simulate` on PostgreSQL + Redis with nothing shared: a fresh database on
# the PostgreSQL server named by PGURL (default postgres://postgres@127.0.0.1:5432), and a
# Redis server of its own on a free loopback port, both removed afterwards. Arguments go to
# the simulator, e.g.:
#   scripts/simulate-pg.sh --customers 20000 --seats 4000 --standing 1000 \
#     --admit-per-minute 3000 --max-active 1000 --max-seconds 600 --report sim-report-pg
set -euo pipefail
cd "$(dirname "$0")/.."
base="${PGURL:-postgres://postgres@127.0.0.1:5432}"
db="stampede_sim_$(date +%s)_$$"
port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --loglevel warning >/dev/null &
redis_pid=$!
psql "$base/postgres" -qc "CREATE DATABASE $db" >/dev/null
cleanup() {
  kill "$redis_pid" 2>/dev/null || true
  psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "simulate-pg: database $db, redis 127.0.0.1:$port" >&2
DATABASE_URL="$base/$db" REDIS_URL="redis://127.0.0.1:$port" \
  npx tsx src/cli/main.ts simulate "$@"
