#!/usr/bin/env bash
# `make deploy-check`: the Kubernetes manifests, offline, as CI checks them.
#
#   scripts/deploy-check.sh [DIR]      DIR: the kustomize tree (default deploy/kubernetes)
#
# 1. renders every overlay in DIR/overlays/ with `kubectl kustomize` (kustomize 4 or later:
#    overlays use components);
# 2. checks every rendered object and DIR/argocd/*.yaml with deploy/check/check.mjs:
#    Kubernetes and CRD schemas, unknown fields, Pod Security "restricted", project rules;
# 3. checks the configuration each overlay ships (its leadhub.yaml and conf.d/) with
#    `leadhubd check-config` against this tree's plugins, secrets stood in by files.
# Exits 1 naming what failed. Needs node and npm (the checker's packages are pinned in
# deploy/check/package-lock.json and installed with `npm ci`), kubectl and build/leadhubd.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
DIR=$(cd "${1:-deploy/kubernetes}" && pwd)
BUILD=${BUILD:-build}
work=$(mktemp -d /tmp/leadhub-deploy-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "deploy-check: $*" >&2
    exit 1
}

# --- tools -------------------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null ||
    fail "node and npm are needed (Debian: apt-get install nodejs npm)"
command -v kubectl >/dev/null || fail "kubectl is needed for \`kubectl kustomize\`"
kustomize_version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
if [ -z "$kustomize_version" ] || [ "$kustomize_version" -lt 4 ]; then
    fail "kubectl's kustomize is v${kustomize_version:-?}; the overlays use components (v4+)"
fi
if [ ! -d deploy/check/node_modules ] ||
    [ deploy/check/package-lock.json -nt deploy/check/node_modules/.package-lock.json ]; then
    (cd deploy/check && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        fail "npm ci in deploy/check failed"
fi

# --- 1. render -------------------------------------------------------------------------------
rendered=()
for overlay in "$DIR"/overlays/*/; do
    name=$(basename "$overlay")
    out="$work/$name.yaml"
    if ! kubectl kustomize "$overlay" >"$out" 2>"$work/$name.err"; then
        cat "$work/$name.err" >&2
        fail "overlay $name does not render"
    fi
    rendered+=("$out")
    echo "deploy-check: rendered overlays/$name: $(grep -c '^kind:' "$out") object(s)"
done
[ ${#rendered[@]} -gt 0 ] || fail "no overlays under $DIR/overlays"

# --- 2. validate -------------------------------------------------------------------------------
node deploy/check/check.mjs "${rendered[@]}" "$DIR"/argocd/*.yaml ||
    fail "the manifests have problems (above)"

# --- 3. the configuration they ship ------------------------------------------------------------
# Each overlay's ConfigMaps as files again, with the cluster's paths made local: the plugin
# directory is this tree's build, each secret file a stand-in.
[ -x "$BUILD/leadhubd" ] || fail "$BUILD/leadhubd is missing: make first"
for out in "${rendered[@]}"; do
    name=$(basename "$out" .yaml)
    conf="$work/config-$name"
    mkdir -p "$conf/conf.d" "$conf/secrets"
    node --input-type=module -e '
        import fs from "node:fs";
        import { createRequire } from "node:module";
        const yaml = createRequire(process.argv[1] + "/deploy/check/")("js-yaml");
        const [, , file, dir] = process.argv;
        for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
            if (!doc || doc.kind !== "ConfigMap") continue;
            const sub = doc.metadata.name.startsWith("leadhub-connectors") ? "/conf.d" : "";
            for (const [key, text] of Object.entries(doc.data || {})) {
                fs.writeFileSync(`${dir}${sub}/${key}`, text);
            }
        }' "$SRC" "$out" "$conf"
    [ -f "$conf/leadhub.yaml" ] || fail "overlays/$name ships no leadhub.yaml"
    for secret in $(grep -ho '/run/secrets/leadhub/[a-z_]*' "$conf/leadhub.yaml" "$conf"/conf.d/*.yaml | sort -u); do
        printf 'stand-in-%s' "$(basename "$secret")" >"$conf/secrets/$(basename "$secret")"
    done
    sed -i -e "s|/run/secrets/leadhub/|$conf/secrets/|g" \
        -e "s|/usr/lib/leadhub/plugins|$SRC/$BUILD/plugins|g" \
        -e "s|connectors_dir: /etc/leadhub/conf.d|connectors_dir: conf.d|" \
        "$conf/leadhub.yaml" "$conf"/conf.d/*.yaml
    if ! "$BUILD/leadhubd" check-config -c "$conf/leadhub.yaml" >"$work/check-$name.out" 2>&1; then
        cat "$work/check-$name.out" >&2
        fail "overlays/$name: its configuration does not check out"
    fi
    echo "deploy-check: overlays/$name: configuration checks out"
done
echo "deploy-check: ok"
