#!/bin/sh
# The README's demo command: install what is missing, build, run the campaign
# demo on the embedded default store (./demo-data/engage.db) and write
# ./demo-data/report.html. Arguments go to the demo: --store sqlite runs it on
# the SQLite adapter (examples/store-sqlite) instead.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
[ -d build ] || meson setup build
meson compile -C build -j 2 engage-demo
./build/examples/engage-demo --dir demo-data "$@"
