#!/bin/sh
# Installs what libengage needs on Debian 12, only what is missing.
# Used by the README's two commands and by .ci/run.
set -eu
need=""
for p in meson ninja-build gcc pkg-config libcmocka-dev doxygen abigail-tools valgrind sqlite3 clang nodejs npm; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $need >/dev/null
fi
