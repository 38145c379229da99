#!/usr/bin/env bash
# Installs the Debian packages leadhub builds, tests and runs with, if any is missing.
# Quiet and quick when everything is already there.
#
#   scripts/deps.sh          everything: build, tests (Check, PostgreSQL), make run
#   scripts/deps.sh build    only what `make all` needs (the image's build stage)
#   scripts/deps.sh image    what `make image-check` needs besides (debootstrap)
set -euo pipefail

build_packages=(build-essential pkg-config libcurl4-openssl-dev libjansson-dev libpq-dev
                libmicrohttpd-dev libssl-dev libyaml-dev)
case "${1:-}" in
build) packages=("${build_packages[@]}") ;;
image) packages=(debootstrap python3) ;;
"") packages=("${build_packages[@]}" check libsubunit-dev postgresql curl openssl) ;;
*)
    echo "usage: deps.sh [build | image]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "deps: missing packages (${missing[*]}) and not root; install them and retry" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
