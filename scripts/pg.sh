#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and `make run`, private to this machine's
# loopback, trust authentication, user postgres.
#
#   scripts/pg.sh start DIR [PORT]   initdb DIR (if new) and start it; prints its URL
#   scripts/pg.sh stop DIR           stop it (fast shutdown)
#   scripts/pg.sh url DIR            print the URL of a running cluster (fails when it is not)
#
# The server refuses to run as root, so as root the cluster belongs to the `postgres`
# user; DIR must then be somewhere that user can reach (see choose_dir in run-daemon.sh).
set -euo pipefail

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
        echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
        exit 1
    fi
    echo "$d"
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$DIR" && runuser -u postgres -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

free_port() {
    local port
    # in random order: a port an earlier try could not bind (a client's ephemeral port
    # looks free to a connect probe) is not simply found again
    for port in $(shuf -i 54320-54999); do
        if ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "pg.sh: no free port in 54320-54999" >&2
    exit 1
}

cmd=${1:-}
DIR=${2:-}
if [ -z "$cmd" ] || [ -z "$DIR" ]; then
    echo "usage: pg.sh start|stop|url DIR [PORT]" >&2
    exit 2
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
BIN=$(pg_bindir)

case "$cmd" in
start)
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$DIR"
        if ! runuser -u postgres -- test -w "$DIR"; then
            echo "pg.sh: user postgres cannot write $DIR (a parent is not traversable)" >&2
            exit 1
        fi
    fi
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
        as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 \
            --no-instructions >"$DIR/initdb.log" 2>&1 ||
            { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    if [ -f "$DIR/port" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
        exit 0
    fi
    # On a shared machine another process may take the port between the probe and the
    # bind: try a few free ports before giving up (a port given explicitly is tried once).
    for attempt in 1 2 3 4 5; do
        port=${3:-$(free_port)}
        echo "$port" >"$DIR/port"
        if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR/port"; fi
        if as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
            -o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" \
            start >/dev/null; then
            echo "postgresql://postgres@127.0.0.1:$port/postgres"
            exit 0
        fi
        if [ -n "${3:-}" ] || ! tail -n 5 "$DIR/server.log" | grep -q "Address already in use" ||
            [ "$attempt" -eq 5 ]; then
            tail -n 20 "$DIR/server.log" >&2
            exit 1
        fi
    done
    ;;
stop)
    if [ -f "$DIR/data/PG_VERSION" ]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
url)
    # Only a server that is up: a cluster left from an earlier run is not one.
    if [ ! -f "$DIR/port" ] || [ ! -f "$DIR/data/PG_VERSION" ] ||
        ! as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        echo "pg.sh: no server running in $DIR" >&2
        exit 1
    fi
    echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
    ;;
*)
    echo "usage: pg.sh start|stop|url DIR [PORT]" >&2
    exit 2
    ;;
esac
