#!/bin/sh
# The README's test command: install what is missing, build, run every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
[ -d build ] || meson setup build
meson compile -C build -j 2
meson test -C build --print-errorlogs --num-processes 2
