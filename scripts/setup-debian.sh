#!/bin/sh
# Installs what libengage needs on Debian 12, only what is missing.
# Used by the README's two commands and by .ci/run.
# Node.js/npm (DuckDB comparison in benchmarks) are optional and never
# installed here: a machine image may ship its own node outside dpkg, and
# asking apt for npm then conflicts with it.
# libsqlite3-dev, libpq-dev and postgresql are for the storage examples
# (examples/store-*) and their conformance tests, which start a private
# PostgreSQL server; libmicrohttpd-dev, libjansson-dev and curl are for the
# CRM back-end example (examples/crm-server) and its test. The library itself
# links none of them.
set -eu
need=""
for p in meson ninja-build gcc clang pkg-config libcmocka-dev doxygen \
         abigail-tools valgrind sqlite3 python3 \
         libsqlite3-dev libpq-dev postgresql gcovr curl \
         libmicrohttpd-dev libjansson-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
