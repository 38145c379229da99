#!/usr/bin/env bash
# Each rule of scripts/image-check.py fails on a deliberately broken Dockerfile, in a test
# of its own. The rules read from the Dockerfile are checked statically (seconds); the one
# that needs the built roots (a library the runtime stage lacks) reuses the build stage
# of an earlier full run in WORK, so only the runtime stage is built again.
#
#   tests/image/test_image_check.sh [WORK]    WORK: the --work folder of a full run
# Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
work=${1:-}
tmp=$(mktemp -d /tmp/leadhub-image-tests.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# run NAME EXPECTED SED-EXPRESSION [--full]: the Dockerfile with one change, and the message
# the check must fail with.
run() {
    local name=$1 expected=$2 expr=$3 mode=${4:---static}
    local file="$tmp/$name.Dockerfile"
    sed -e "$expr" deploy/Dockerfile >"$file"
    if cmp -s "$file" deploy/Dockerfile; then
        echo "FAIL $name: the change did not apply"
        failed=$((failed + 1))
        return
    fi
    local args=(--dockerfile "$file")
    if [ "$mode" = --full ]; then
        args+=(--work "$work")
    else
        args+=(--static)
    fi
    local out rc
    out=$(scripts/image-check.py "${args[@]}" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && grep -qF -- "$expected" <<<"$out"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: expected a failure saying \"$expected\", got (exit $rc):"
        tail -n 30 <<<"$out" | sed 's/^/     /'
        failed=$((failed + 1))
    fi
}

if scripts/image-check.py --static >/dev/null; then
    echo "ok   as_shipped_static"
    passed=$((passed + 1))
else
    echo "FAIL as_shipped_static"
    failed=$((failed + 1))
fi
run unknown_instruction "HEALTHCHECK is an instruction this check does not know" \
    's|^EXPOSE 8080$|EXPOSE 8080\nHEALTHCHECK CMD ["/usr/bin/leadhubd", "version"]|'
run base_not_pinned "is not Debian 12 pinned by digest" \
    's|^ARG DEBIAN_IMAGE=.*|ARG DEBIAN_IMAGE=debian:12-slim|'
run runs_as_root "must be a fixed numeric non-root" 's|^USER 10001:10001$|USER 0:0|'
run named_user "must be a fixed numeric non-root" 's|^USER 10001:10001$|USER leadhub|'
run user_differs_from_deployment "make them one" 's|^USER 10001:10001$|USER 10002:10002|'
run no_user "sets no USER" '/^USER /d'
run shell_entrypoint "must be the exec form" 's|^ENTRYPOINT .*|ENTRYPOINT /usr/bin/leadhubd|'
run wrapper_entrypoint "the entrypoint must be /usr/bin/leadhubd" \
    's|^ENTRYPOINT .*|ENTRYPOINT ["/bin/sh", "-c", "exec /usr/bin/leadhubd \\"$@\\""]|'
run no_oci_labels "lacks the OCI labels" '/^LABEL /,/documentation/d'
run runtime_copies_sources "holds only what a build stage built" \
    's|^COPY --from=build /out/usr/bin/leadhubd /usr/bin/leadhubd$|COPY . /src|'
if [ -n "$work" ]; then
    run runtime_lacks_a_library "shared libraries missing in the runtime root" \
        's/ libyaml-0-2 / /' --full
else
    echo "skip runtime_lacks_a_library: give the --work folder of a full run"
fi
echo "image-check tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
