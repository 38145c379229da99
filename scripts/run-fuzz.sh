#!/usr/bin/env bash
# Runs every libFuzzer target under $BUILD/fuzz for FUZZ_SECONDS each, one after the
# other, and prints one line per target with its exec count; exits 1 if any target found a
# crash, a leak, a timeout or a sanitizer report. Run it through `make fuzz`.
#
#   FUZZ_SECONDS  run time per target (default 60)
#   FUZZ_ONLY     run only the targets whose name contains this text
#
# Seeds come from the target's sibling corpus_<name>/ directory (and, for a plugin's
# target, the plugin's tests/fixtures/); what the fuzzer learns is
# kept in $BUILD/corpus/<name>/ (so the next run starts from it) and never written back
# into the tree. Logs and any crashing input go to $BUILD/logs/ and $BUILD/artifacts/.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build/fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
ONLY=${FUZZ_ONLY:-}

mapfile -t targets < <(find "$BUILD/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz_*' | sort)
if [ ${#targets[@]} -eq 0 ]; then
    echo "run-fuzz: no fuzz targets under $BUILD/fuzz (run make fuzz)" >&2
    exit 1
fi

# The source directory of a target: tests/fuzz or plugins/<plugin>/fuzz.
seed_dir() {
    local name=$1 src
    src=$(find tests/fuzz plugins/*/fuzz -maxdepth 1 -name "$name.c" 2>/dev/null | head -n 1)
    [ -n "$src" ] && echo "$(dirname "$src")/corpus_${name#fuzz_}"
}

mkdir -p "$BUILD/logs" "$BUILD/artifacts" "$BUILD/corpus"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
ran=0
for bin in "${targets[@]}"; do
    name=$(basename "$bin")
    if [ -n "$ONLY" ] && [[ $name != *"$ONLY"* ]]; then
        continue
    fi
    ran=$((ran + 1))
    seeds=$(seed_dir "$name")
    work="$BUILD/corpus/$name"
    log="$BUILD/logs/$name.log"
    mkdir -p "$work"
    dirs=("$work")
    if [ -n "$seeds" ] && [ -d "$seeds" ]; then
        dirs+=("$seeds")
    fi
    # a plugin's test fixtures (provider payloads) are seeds too, kept in one place
    fixtures="$(dirname "${seeds:-tests/fuzz/x}")/../tests/fixtures"
    if [[ $seeds == plugins/* ]] && [ -d "$fixtures" ]; then
        dirs+=("$fixtures")
    fi
    dict=()
    src_dir=$(dirname "${seeds:-tests/fuzz/x}")
    if [ -f "$src_dir/${name}.dict" ]; then
        dict=("-dict=$src_dir/${name}.dict")
    fi
    echo "=== $name (${SECONDS_EACH}s)"
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" \
        "${dict[@]}" "${dirs[@]}" </dev/null >"$log" 2>&1
    rc=$?
    execs=$(grep 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corpus=$(find "$work" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        failed+=("$name")
        echo "$name: FAILED (exit $rc) after $execs execs; see $log"
        grep -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -n 5
    else
        echo "$name: ok, $execs execs in ${SECONDS_EACH}s, coverage ${cov:-?}, corpus $corpus"
    fi
done

if [ $ran -eq 0 ]; then
    echo "run-fuzz: no target matches FUZZ_ONLY=$ONLY" >&2
    exit 1
fi
if [ ${#failed[@]} -ne 0 ]; then
    echo "FUZZ FAILED: ${failed[*]}"
    exit 1
fi
echo "OK: $ran fuzz targets ran clean"
