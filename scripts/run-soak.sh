#!/usr/bin/env bash
# `make soak`: the long forms of the durability and hostile-load tests. The same programs
# `make test` runs in short form, with LEADHUB_SOAK=1: 20 rounds of kill -9 under load,
# longer loads through PostgreSQL restarts, more provider faults, and the hostile loads at
# full size (2,000 x 1 MiB bodies, 5,000 slowloris connections, PostgreSQL frozen for 20 s).
# Starts a throwaway PostgreSQL unless LEADHUB_TEST_DATABASE_URL names one.
#
#   SOAK_TESTS   test programs to run (names under $BUILD/tests/e2e, default below)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export LEADHUB_BUILD_DIR="$PWD/$BUILD"
export LEADHUB_SOURCE_DIR="$PWD"
export LEADHUB_SOAK=1
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-3600}
read -r -a tests <<<"${SOAK_TESTS:-test_crash_recovery test_database_outage test_provider_faults test_hostile_load}"

if [ -z "${LEADHUB_TEST_DATABASE_URL:-}" ]; then
    pgdir=$(mktemp -d /tmp/leadhub-soak-pg.XXXXXX)
    chmod 755 "$pgdir"
    trap 'scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
    if ! LEADHUB_TEST_DATABASE_URL=$(scripts/pg.sh start "$pgdir"); then
        echo "run-soak: could not start a throwaway PostgreSQL" >&2
        exit 1
    fi
    export LEADHUB_TEST_DATABASE_URL
fi

failed=()
for name in "${tests[@]}"; do
    t="$BUILD/tests/e2e/$name"
    if [ ! -x "$t" ]; then
        echo "run-soak: $t is missing (make tests)" >&2
        failed+=("$name")
        continue
    fi
    echo "=== soak: $name"
    if ! "$t"; then
        failed+=("$name")
    fi
done

echo
if [ ${#failed[@]} -ne 0 ]; then
    echo "SOAK FAILED: ${failed[*]}"
    exit 1
fi
echo "OK: ${#tests[@]} soak programs passed"
