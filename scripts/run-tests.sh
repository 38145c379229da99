#!/usr/bin/env bash
# Runs every test program under $BUILD/tests (unit, plugin and end-to-end suites, all
# Check, the console's browser suite among them) and the console's Vitest unit tests, and
# prints a summary; exits 1 if any failed. Starts a throwaway PostgreSQL for the
# run unless LEADHUB_TEST_DATABASE_URL names one (tests create and drop their own
# databases in it). Run it through `make test` / `make asan`.
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export LEADHUB_BUILD_DIR="$PWD/$BUILD"
export LEADHUB_SOURCE_DIR="$PWD"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
if [ "${SANITIZE:-}" = 1 ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
    export CK_DEFAULT_TIMEOUT=$((CK_DEFAULT_TIMEOUT * 3))
fi

if [ -z "${LEADHUB_TEST_DATABASE_URL:-}" ]; then
    pgdir=$(mktemp -d /tmp/leadhub-test-pg.XXXXXX)
    chmod 755 "$pgdir"
    trap 'scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
    if ! LEADHUB_TEST_DATABASE_URL=$(scripts/pg.sh start "$pgdir"); then
        echo "run-tests: could not start a throwaway PostgreSQL" >&2
        exit 1
    fi
    export LEADHUB_TEST_DATABASE_URL
fi

mapfile -t tests < <(find "$BUILD/tests" -type f -perm -u+x -name 'test_*' | sort)
if [ ${#tests[@]} -eq 0 ]; then
    echo "run-tests: no test programs under $BUILD/tests (run make tests first)" >&2
    exit 1
fi

failed=()
# The console's unit tests (Vitest; its browser suite is test_console_browser). Not under
# the sanitizers: they test no C.
if [ "${SANITIZE:-}" != 1 ]; then
    echo "=== console/vitest"
    if ! (cd console && npx --no-install vitest run); then
        failed+=("console/vitest")
    fi
fi
for t in "${tests[@]}"; do
    echo "=== ${t#"$BUILD"/tests/}"
    if ! "$t"; then
        failed+=("${t#"$BUILD"/tests/}")
    fi
done

echo
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${#failed[@]} test programs: ${failed[*]}"
    exit 1
fi
echo "OK: all ${#tests[@]} test programs passed${SANITIZE:+ under the sanitizers}"
