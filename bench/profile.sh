#!/usr/bin/env bash
# Where the time goes under ingest load: runs the daemon (optionally under callgrind)
# against a throwaway PostgreSQL with pg_stat_statements, drives it with
# `leadhub-bench load`, then prints the statements by total time and, with --callgrind,
# the daemon's functions by instructions (inclusive). docs/performance.md shows its output.
#
#   bench/profile.sh [--callgrind] [--connections N] [--batch K] [--duration S]
#                    [--history ROWS]
#
# Build first (make bench). Needs valgrind for --callgrind; PostgreSQL's contrib for
# pg_stat_statements (Debian's postgresql package has it).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
callgrind=0
connections=64
batch=1
duration=10
history=100000
while [ $# -gt 0 ]; do
    case "$1" in
    --callgrind) callgrind=1 ;;
    --connections) connections=$2; shift ;;
    --batch) batch=$2; shift ;;
    --duration) duration=$2; shift ;;
    --history) history=$2; shift ;;
    *) echo "usage: bench/profile.sh [--callgrind] [--connections N] [--batch K]" \
            "[--duration S] [--history ROWS]" >&2; exit 2 ;;
    esac
    shift
done
if [ ! -x "$BUILD/leadhubd" ] || [ ! -x "$BUILD/bench/leadhub-bench" ]; then
    echo "profile: build first (make bench)" >&2
    exit 2
fi

work=$(mktemp -d /tmp/leadhub-profile.XXXXXX)
chmod 755 "$work"
daemon=
cleanup() {
    if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    scripts/pg.sh stop "$work/pg"
    rm -rf "$work"
}
trap cleanup EXIT

url=$(scripts/pg.sh start "$work/pg")
psql -q "$url" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
scripts/pg.sh stop "$work/pg"
url=$(scripts/pg.sh start "$work/pg" "$(cat "$work/pg/port")")
psql -q "$url" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" \
    -c "SELECT pg_reload_conf()" >/dev/null
psql -q "$url" -c "CREATE DATABASE profile"
db_url="${url%/postgres}/profile"
psql -q "$db_url" -c "CREATE EXTENSION pg_stat_statements"

port=$(( 20000 + RANDOM % 20000 ))
mkdir -p "$work/conf.d"
cat >"$work/leadhub.yaml" <<YAML
database_url: "$db_url"
listen: 127.0.0.1:$port
plugin_path: ["$PWD/$BUILD/plugins"]
connectors_dir: conf.d
YAML
cat >"$work/conf.d/inbound.yaml" <<'YAML'
name: inbound
plugin: webhook
settings:
  secret: ${LEADHUB_BENCH_SECRET}
YAML
export LEADHUB_BENCH_SECRET=profile-secret
"$BUILD/leadhubd" migrate -c "$work/leadhub.yaml" >/dev/null
# tables with history and statistics, like a running system's (see bench_db_add_history)
psql -q "$db_url" -c "INSERT INTO leads (email, first_name)
    SELECT 'history-' || g || '@bench.example', 'Ada' FROM generate_series(1, $history) g" \
    -c "INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload)
    SELECT 'inbound', 'history-' || id, 'lead.created', now() - id * interval '1 s', id,
           jsonb_build_object('type', 'lead.created', 'source_id', 'history-' || id)
    FROM leads" -c "VACUUM ANALYZE"

runner=()
if [ $callgrind -eq 1 ]; then
    runner=(valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out")
fi
"${runner[@]}" "$BUILD/leadhubd" run -c "$work/leadhub.yaml" >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
psql -q "$db_url" -c "SELECT pg_stat_statements_reset()" >/dev/null

echo "load: $connections connections, $batch event(s) per request, $duration s"
"$BUILD/bench/leadhub-bench" load --port "$port" --connections "$connections" \
    --batch "$batch" --duration "$duration" --secret "$LEADHUB_BENCH_SECRET"
curl -s "http://127.0.0.1:$port/metrics" |
    grep -E '^leadhub_ingest_(batch_events|commit_seconds)_(sum|count)' || true

echo
echo "statements by total time (plan + execute), per call in ms:"
psql "$db_url" -c "SELECT calls, plans, round((total_plan_time + total_exec_time)::numeric, 1)
        AS total_ms, round(((total_plan_time + total_exec_time) / nullif(calls, 0))::numeric, 3)
        AS per_call_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query NOT LIKE '%pg_stat_statements%'
    ORDER BY total_plan_time + total_exec_time DESC LIMIT 10"

kill -TERM "$daemon"
wait "$daemon" || true
daemon=
if [ $callgrind -eq 1 ]; then
    echo "daemon functions by instructions, inclusive (callgrind):"
    callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null |
        grep -E '^ *[0-9,]+ \(' | grep -vE 'start_thread|clone|\?\?\?:0x' | head -40
fi
