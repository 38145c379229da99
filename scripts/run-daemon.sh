#!/usr/bin/env bash
# `make run`: the daemon in the foreground with config/leadhub.yaml. Without DATABASE_URL
# it starts a throwaway PostgreSQL whose data lives under .run/pg (git-ignored) and stops
# it again when the daemon exits; the data stays for the next run.
#
# `scripts/run-daemon.sh psql` (make psql) opens psql on that database while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CONFIG=${LEADHUB_CONFIG:-config/leadhub.yaml}

# Where the throwaway cluster lives. As root the server runs as `postgres`, which must be
# able to reach the folder; when it cannot (a checkout under /root), use /var/tmp.
pg_dir() {
    local dir="$PWD/.run/pg"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
        dir="/var/tmp/leadhub-run-pg-$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)"
    fi
    echo "$dir"
}

if [ "${1:-}" = psql ]; then
    if [ -z "${DATABASE_URL:-}" ]; then
        DATABASE_URL=$(scripts/pg.sh url "$(pg_dir)" 2>/dev/null) ||
            { echo "psql: no throwaway database yet: start \`make run\` first" >&2; exit 1; }
    fi
    exec psql "$DATABASE_URL"
fi

if [ -z "${DATABASE_URL:-}" ]; then
    pgdir=$(pg_dir)
    mkdir -p "$pgdir"
    echo "run: starting a throwaway PostgreSQL in $pgdir" >&2
    DATABASE_URL=$(scripts/pg.sh start "$pgdir")
    export DATABASE_URL
    trap 'scripts/pg.sh stop "$pgdir"' EXIT
    echo "run: database $DATABASE_URL (make psql opens it)" >&2
fi

# The example connector's webhook secret; set your own outside development.
export LEADHUB_INBOUND_SECRET=${LEADHUB_INBOUND_SECRET:-dev-inbound-secret}
# The example REST API token (config/leadhub.yaml); likewise.
export LEADHUB_API_TOKEN=${LEADHUB_API_TOKEN:-dev-api-token-not-a-secret}
export LEADHUB_PLUGIN_DIR=${LEADHUB_PLUGIN_DIR:-$PWD/$BUILD/plugins}

"$BUILD/leadhubd" check-config -c "$CONFIG"
"$BUILD/leadhubd" migrate -c "$CONFIG"
echo "run: leadhubd run -c $CONFIG (Ctrl-C stops it)" >&2
"$BUILD/leadhubd" run -c "$CONFIG"
