#!/bin/sh
# Regenerate abi/libengage.abi from a build. Run deliberately; commit alone.
# usage: tests/abi/update_baseline.sh [builddir]
set -eu
b=${1:-build}
mkdir -p abi
abidw --no-show-locs --no-comp-dir-path --no-architecture --headers-dir include \
      --out-file abi/libengage.abi "$b/src/libengage.so.1"
echo "wrote abi/libengage.abi"
