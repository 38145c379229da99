#!/usr/bin/env bash
# Installs the Debian packages leadhub builds, tests and runs with, if any is missing.
# Quiet and quick when everything is already there.
set -euo pipefail

packages=(build-essential pkg-config libcurl4-openssl-dev libjansson-dev libpq-dev check
          libsubunit-dev libmicrohttpd-dev libssl-dev libyaml-dev postgresql curl openssl)

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
