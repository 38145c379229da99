#!/usr/bin/env bash
# `make run`: the daemon in the foreground with config/leadhub.yaml. Without DATABASE_URL
# it starts a throwaway PostgreSQL whose data lives under .run/pg (git-ignored) and stops
# it again when the daemon exits; the data stays for the next run.
#
# `scripts/run-daemon.sh psql` (make psql) opens psql on that database while it runs.
#
# While the daemon runs, .run/env (mode 0600, git-ignored) holds the development settings
# exported here, for a second terminal: `. .run/env`, then `build/leadhubd check-config`.
# Values you exported yourself are not written to it.
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
        # pg.sh url fails unless the server is up, not merely created
        DATABASE_URL=$(scripts/pg.sh url "$(pg_dir)" 2>/dev/null) || {
            echo "psql: the PostgreSQL of \`make run\` is not running: start \`make run\`" \
                "first (or set DATABASE_URL)" >&2
            exit 1
        }
    fi
    exec psql "$DATABASE_URL"
fi

# 'value' quoted for sh, whatever it holds.
sh_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# .run/env: `export NAME=value` for each NAME this script set itself (development values
# only; what the caller exported stays out of the file).
write_env_file() {
    local name
    mkdir -p .run
    (
        umask 077
        {
            echo "# Written by \`make run\` while it runs; \`. .run/env\` in another terminal."
            for name in "$@"; do
                echo "export $name=$(sh_quote "${!name}")"
            done
        } >.run/env.tmp
    )
    mv -f .run/env.tmp .run/env
}

pgdir=
own=()
cleanup() {
    rm -f .run/env .run/env.tmp
    if [ -n "$pgdir" ]; then
        scripts/pg.sh stop "$pgdir"
    fi
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
    pgdir=$(pg_dir)
    mkdir -p "$pgdir"
    echo "run: starting a throwaway PostgreSQL in $pgdir" >&2
    DATABASE_URL=$(scripts/pg.sh start "$pgdir")
    export DATABASE_URL
    own+=(DATABASE_URL)
    echo "run: database $DATABASE_URL (make psql opens it)" >&2
fi

# The example connector's webhook secret; set your own outside development.
if [ -z "${LEADHUB_INBOUND_SECRET:-}" ]; then
    export LEADHUB_INBOUND_SECRET=dev-inbound-secret
    own+=(LEADHUB_INBOUND_SECRET)
fi
# The example REST API token (config/leadhub.yaml); likewise.
if [ -z "${LEADHUB_API_TOKEN:-}" ]; then
    export LEADHUB_API_TOKEN=dev-api-token-not-a-secret
    own+=(LEADHUB_API_TOKEN)
fi
if [ -z "${LEADHUB_PLUGIN_DIR:-}" ]; then
    export LEADHUB_PLUGIN_DIR=$PWD/$BUILD/plugins
    own+=(LEADHUB_PLUGIN_DIR)
fi
write_env_file "${own[@]}"
if [ "${#own[@]}" -gt 0 ]; then
    echo "run: in another terminal, \`. .run/env\` exports ${own[*]} as here" >&2
fi

"$BUILD/leadhubd" check-config -c "$CONFIG"
"$BUILD/leadhubd" migrate -c "$CONFIG"
echo "run: leadhubd run -c $CONFIG (Ctrl-C stops it)" >&2
listen=${LEADHUB_LISTEN:-127.0.0.1:8080}
# shellcheck disable=SC2016 # the name, not its value
token_hint='your $LEADHUB_API_TOKEN'
if [[ " ${own[*]} " == *" LEADHUB_API_TOKEN "* ]]; then
    token_hint="the development token $LEADHUB_API_TOKEN"
fi
echo "run: the console: http://${listen/#:/127.0.0.1:}/console/ (sign in with $token_hint)" >&2
"$BUILD/leadhubd" run -c "$CONFIG"
