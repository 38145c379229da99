#!/usr/bin/env bash
# Each check of scripts/deploy-check.sh fails on a deliberately broken input, in a test of
# its own: a copy of deploy/kubernetes with one mistake, and the message that must name it.
# The unbroken tree must pass first. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
work=$(mktemp -d /tmp/leadhub-deploy-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# run NAME EXPECTED-TEXT MUTATION...: copy the tree, apply the mutation (a shell command run
# in the copy), expect deploy-check to fail saying EXPECTED-TEXT ("" expects success).
run() {
    local name=$1 expected=$2
    shift 2
    local tree="$work/$name"
    cp -R deploy/kubernetes "$tree"
    if ! (cd "$tree" && eval "$*"); then
        echo "FAIL $name: the mutation did not apply"
        failed=$((failed + 1))
        return
    fi
    local out rc
    out=$(scripts/deploy-check.sh "$tree" 2>&1)
    rc=$?
    if [ -z "$expected" ]; then
        if [ $rc -eq 0 ]; then
            echo "ok   $name"
            passed=$((passed + 1))
        else
            echo "FAIL $name: expected success, got:"
            echo "$out" | sed 's/^/     /'
            failed=$((failed + 1))
        fi
        return
    fi
    if [ $rc -ne 0 ] && grep -qF -- "$expected" <<<"$out"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: expected a failure saying \"$expected\", got (exit $rc):"
        echo "$out" | sed 's/^/     /'
        failed=$((failed + 1))
    fi
}

# sed that fails when it changes nothing: a mutation that silently misses proves nothing
must_sed() {
    local expr=$1 file=$2
    cp "$file" "$file.before"
    sed -i "$expr" "$file"
    ! cmp -s "$file" "$file.before" && rm -f "$file.before"
}

run as_shipped ""

run render_missing_resource "does not render" \
    "must_sed 's/^resources:/resources:\n  - no-such-file.yaml/' base/kustomization.yaml"

run schema_wrong_type "/spec/template/spec/terminationGracePeriodSeconds must be integer" \
    "must_sed 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: forty-five/' base/deployment.yaml"

run strict_misspelt_field "imagePulPolicy: unknown field" \
    "must_sed 's/imagePullPolicy: IfNotPresent/imagePulPolicy: IfNotPresent/' base/deployment.yaml"

run strict_misspelt_crd_field "selfHeel: unknown field" \
    "must_sed 's/selfHeal: true/selfHeel: true/' argocd/application.yaml"

run strict_misspelt_servicemonitor_field "pat: unknown field" \
    "must_sed 's/      path: \/metrics/      pat: \/metrics/' components/servicemonitor/servicemonitor.yaml"

run restricted_privilege_escalation "allowPrivilegeEscalation: Pod Security restricted: must be false" \
    "must_sed '0,/allowPrivilegeEscalation: false/s//allowPrivilegeEscalation: true/' base/deployment.yaml"

run restricted_capabilities "capabilities.drop: Pod Security restricted: must include ALL" \
    "must_sed '0,/drop: \[ALL\]/s//drop: [NET_RAW]/' base/deployment.yaml"

run restricted_host_path "volume type hostPath is not allowed" \
    "must_sed 's/^        - name: tmp$/        - name: host\n          hostPath: {path: \/var\/run}\n        - name: tmp/' base/deployment.yaml"

run unknown_kind "unknown apiVersion/kind policy/v1/PodDisruptionBudgit" \
    "must_sed 's/kind: PodDisruptionBudget/kind: PodDisruptionBudgit/' base/poddisruptionbudget.yaml"

run committed_secret "a Secret in the manifests" \
    "printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: leadhub-secrets\nstringData:\n  database_url: postgresql://u:CHANGE-ME@db/leadhub\n' > base/secret.yaml && must_sed 's/^resources:/resources:\n  - secret.yaml/' base/kustomization.yaml"

run ingress_exposes_api "exposes /v1/: only /webhooks/ may be reached" \
    "must_sed 's|          - path: /webhooks/|          - path: /v1/|' base/ingress.yaml"

run config_misspelt_key "shutdown_grac" \
    "must_sed 's/^shutdown_grace: 20s/shutdown_grac: 20s/' base/config/leadhub.yaml"

run config_unknown_plugin_setting "batch_sise" \
    "must_sed 's/  batch_size: 50/  batch_sise: 50/' base/config/conf.d/warehouse.yaml"

echo "deploy-check tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
