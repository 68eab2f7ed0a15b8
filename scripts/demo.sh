#!/bin/sh
# The README's demo command: install what is missing, build, run the demo on the
# embedded default store (a file under ./demo-data).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
[ -d build ] || meson setup build
meson compile -C build -j 2 engage-demo
mkdir -p demo-data
./build/examples/engage-demo demo-data/engage.db
