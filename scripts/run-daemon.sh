#!/usr/bin/env bash
# `make run`: the daemon in the foreground. Without DATABASE_URL it starts a throwaway
# PostgreSQL whose data lives under .run/pg (git-ignored) and stops it again when the
# daemon exits; the data stays for the next run.
#
# The configuration is a scratch copy: the first run copies config/ to .run/config/, and
# the daemon reads .run/config/leadhub.yaml. Edit it freely (the README tour does); the
# tracked examples stay as they are, so `make test` still passes. `rm -r .run/config` starts
# again from config/; LEADHUB_CONFIG=FILE runs another file instead.
#
# SIGTERM or SIGINT (Ctrl-C) to `make run` stop the daemon (it drains), then PostgreSQL.
# While the daemon runs, .run/leadhubd.pid names it (locked by the daemon: a left-over file
# names nobody) and .run/env (mode 0600) holds the development settings exported here, for
# a second terminal: `. .run/env`, then `build/leadhubd reload` or `check-config`. Values
# you exported yourself are not written to it. .run/secrets_key, the development key that
# seals OAuth tokens, stays from one run to the next.
#
#   scripts/run-daemon.sh            run (make run)
#   scripts/run-daemon.sh psql       psql on the database of a running `make run` (make psql)
#   scripts/run-daemon.sh reload     reload the daemon of a running `make run` (make reload)
#
# LEADHUB_RUN_DIR moves .run elsewhere (tests run the script outside the source tree).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
RUN_DIR=${LEADHUB_RUN_DIR:-$PWD/.run}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
PID_FILE=$RUN_DIR/leadhubd.pid

# Where the throwaway cluster lives. As root the server runs as `postgres`, which must be
# able to reach the folder; when it cannot (a checkout under /root), use /var/tmp.
pg_dir() {
    local dir="$RUN_DIR/pg"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$RUN_DIR" 2>/dev/null; then
        dir="/var/tmp/leadhub-run-pg-$(printf '%s' "$RUN_DIR" | cksum | cut -d' ' -f1)"
    fi
    echo "$dir"
}

case "${1:-}" in
psql)
    if [ -z "${DATABASE_URL:-}" ]; then
        # pg.sh url fails unless the server is up, not merely created
        DATABASE_URL=$(scripts/pg.sh url "$(pg_dir)" 2>/dev/null) || {
            echo "psql: the PostgreSQL of \`make run\` is not running: start \`make run\`" \
                "first (or set DATABASE_URL)" >&2
            exit 1
        }
    fi
    exec psql "$DATABASE_URL"
    ;;
reload)
    exec "$BUILD/leadhubd" reload --pid-file "$PID_FILE"
    ;;
"") ;;
*)
    echo "usage: run-daemon.sh [psql | reload]" >&2
    exit 2
    ;;
esac

# 'value' quoted for sh, whatever it holds.
sh_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# .run/env: `export NAME=value` for each NAME this script set itself (development values
# only; what the caller exported stays out of the file).
write_env_file() {
    local name
    (
        umask 077
        {
            echo "# Written by \`make run\` while it runs; \`. .run/env\` in another terminal."
            for name in "$@"; do
                echo "export $name=$(sh_quote "${!name}")"
            done
        } >"$RUN_DIR/env.tmp"
    )
    mv -f "$RUN_DIR/env.tmp" "$RUN_DIR/env"
}

pgdir=
daemon=
own=()
cleanup() {
    # The daemon first (it may still commit), then its database.
    if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/env" "$RUN_DIR/env.tmp"
    if [ -n "$pgdir" ]; then
        scripts/pg.sh stop "$pgdir"
    fi
}
trap cleanup EXIT
# SIGTERM or SIGINT to this script is passed on to the daemon as SIGTERM (the same drain),
# whose exit ends the wait below; before the daemon runs, they just stop the script.
forward() {
    if [ -n "$daemon" ]; then
        kill -TERM "$daemon" 2>/dev/null || true
    else
        exit 130
    fi
}
trap forward TERM INT

if [ -n "${LEADHUB_CONFIG:-}" ]; then
    CONFIG=$LEADHUB_CONFIG
    own_config=
else
    if [ ! -f "$RUN_DIR/config/leadhub.yaml" ]; then
        mkdir -p "$RUN_DIR/config"
        cp -R config/leadhub.yaml config/conf.d "$RUN_DIR/config/"
        echo "run: copied config/ to $RUN_DIR/config/ (a scratch copy: edit it freely;" \
            "rm -r it to start again from config/)" >&2
    fi
    CONFIG=$RUN_DIR/config/leadhub.yaml
    own_config=1
fi

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
# The key that seals OAuth tokens at rest (config/leadhub.yaml: secrets_key). Made once and
# kept in .run/secrets_key (mode 0600, git-ignored), so that what one run stored sealed the
# next can still open; set your own outside development.
if [ -z "${LEADHUB_SECRETS_KEY:-}" ]; then
    if [ ! -s "$RUN_DIR/secrets_key" ]; then
        (
            umask 077
            if command -v openssl >/dev/null; then
                openssl rand -base64 32
            else
                head -c 32 /dev/urandom | base64
            fi >"$RUN_DIR/secrets_key.tmp"
        )
        mv -f "$RUN_DIR/secrets_key.tmp" "$RUN_DIR/secrets_key"
        echo "run: made a development secrets_key in $RUN_DIR/secrets_key" >&2
    fi
    LEADHUB_SECRETS_KEY=$(cat "$RUN_DIR/secrets_key")
    export LEADHUB_SECRETS_KEY
    own+=(LEADHUB_SECRETS_KEY)
fi
if [ -z "${LEADHUB_PLUGIN_DIR:-}" ]; then
    export LEADHUB_PLUGIN_DIR=$BUILD/plugins
    own+=(LEADHUB_PLUGIN_DIR)
fi
# The console `make run` built (console.dir in config/leadhub.yaml).
if [ -z "${LEADHUB_CONSOLE_DIR:-}" ]; then
    export LEADHUB_CONSOLE_DIR=$PWD/console/dist
    own+=(LEADHUB_CONSOLE_DIR)
fi
# Which daemon `leadhubd reload` signals, and the file leadhubd commands read without -c.
export LEADHUB_PID_FILE=$PID_FILE
own+=(LEADHUB_PID_FILE)
if [ -n "$own_config" ]; then
    export LEADHUB_CONFIG=$CONFIG
    own+=(LEADHUB_CONFIG)
fi
write_env_file "${own[@]}"
echo "run: in another terminal, \`. .run/env\` exports ${own[*]} as here" >&2

"$BUILD/leadhubd" check-config -c "$CONFIG"
"$BUILD/leadhubd" migrate -c "$CONFIG"
echo "run: leadhubd run -c $CONFIG (Ctrl-C stops it; \`make reload\` reloads it)" >&2
listen=${LEADHUB_LISTEN:-127.0.0.1:8080}
# shellcheck disable=SC2016 # the name, not its value
token_hint='your $LEADHUB_API_TOKEN'
if [[ " ${own[*]} " == *" LEADHUB_API_TOKEN "* ]]; then
    token_hint="the development token $LEADHUB_API_TOKEN"
fi
echo "run: the console: http://${listen/#:/127.0.0.1:}/console/ (sign in with $token_hint)" >&2
# In the background so that this script stays free to pass signals on: bash runs no
# trap while it waits for a foreground child.
"$BUILD/leadhubd" run -c "$CONFIG" --pid-file "$PID_FILE" &
daemon=$!
status=0
# wait returns early (>128) when a trapped signal arrives: wait again until the daemon is
# gone, and report its own exit status.
while kill -0 "$daemon" 2>/dev/null; do
    wait "$daemon" && status=0 || status=$?
done
daemon=
exit "$status"
