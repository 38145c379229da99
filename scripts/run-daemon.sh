#!/usr/bin/env bash
# `make run`: the daemon in the foreground with config/leadhub.yaml. Without DATABASE_URL
# it starts a throwaway PostgreSQL whose data lives under .run/pg (git-ignored) and stops
# it again when the daemon exits; the data stays for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CONFIG=${LEADHUB_CONFIG:-config/leadhub.yaml}

pgdir=
if [ -z "${DATABASE_URL:-}" ]; then
    pgdir="$PWD/.run/pg"
    mkdir -p "$pgdir"
    # As root the server runs as `postgres`, which must be able to reach the folder.
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PWD/.run" 2>/dev/null; then
        pgdir="/var/tmp/leadhub-run-pg-$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)"
        mkdir -p "$pgdir"
    fi
    echo "run: starting a throwaway PostgreSQL in $pgdir" >&2
    DATABASE_URL=$(scripts/pg.sh start "$pgdir")
    export DATABASE_URL
    trap 'scripts/pg.sh stop "$pgdir"' EXIT
fi

# The example connector's webhook secret; set your own outside development.
export LEADHUB_INBOUND_SECRET=${LEADHUB_INBOUND_SECRET:-dev-inbound-secret}

"$BUILD/leadhubd" check-config -c "$CONFIG"
"$BUILD/leadhubd" migrate -c "$CONFIG"
echo "run: leadhubd run -c $CONFIG (Ctrl-C stops it)" >&2
"$BUILD/leadhubd" run -c "$CONFIG"
