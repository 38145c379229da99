#!/usr/bin/env bash
# What the web console needs, installed from Debian when missing (quiet and quick when
# everything is there):
#   scripts/console-deps.sh build   Node.js and npm, to build it (Debian's nodejs and npm
#                                   when the machine has no node of its own)
#   scripts/console-deps.sh test    the same, and Chromium for its browser tests
# npm packages never download a browser: the tests drive Debian's /usr/bin/chromium.
set -euo pipefail

want=${1:-build}
missing=()
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi
if [ "$want" = test ] && [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "console-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "console-deps: missing packages (${missing[*]}) and not root; install them and retry" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
