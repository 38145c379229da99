#!/usr/bin/env bash
# `make bench`: runs build/bench/leadhub-bench against a throwaway PostgreSQL cluster (the
# same kind the tests use, scripts/pg.sh) unless LEADHUB_TEST_DATABASE_URL names a server.
# Prints the table; the JSON lines (one object per figure) go to $BENCH_JSON (default
# $BUILD/bench/results.jsonl). Arguments are passed on to leadhub-bench (--quick,
# --duration S, --deliveries N, --only PART).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
export LEADHUB_BUILD_DIR="$PWD/$BUILD"
json=${BENCH_JSON:-$BUILD/bench/results.jsonl}

if [ ! -x "$BUILD/bench/leadhub-bench" ] || [ ! -x "$BUILD/leadhubd" ]; then
    echo "bench: build first (make bench)" >&2
    exit 2
fi

if [ -z "${LEADHUB_TEST_DATABASE_URL:-}" ]; then
    pgdir=$(mktemp -d /tmp/leadhub-bench-pg.XXXXXX)
    chmod 755 "$pgdir"
    trap 'scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
    if ! LEADHUB_TEST_DATABASE_URL=$(scripts/pg.sh start "$pgdir"); then
        echo "bench: could not start a throwaway PostgreSQL" >&2
        exit 2
    fi
    export LEADHUB_TEST_DATABASE_URL
fi

mkdir -p "$(dirname "$json")"
"$BUILD/bench/leadhub-bench" --json "$json" "$@"
rc=$?
echo
echo "JSON, one object per figure: $json"
exit $rc
