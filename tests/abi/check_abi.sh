#!/bin/sh
# Compare the built library's ABI with the checked-in baseline (abi/libengage.abi).
# abidiff exit bits: 1 error, 2 usage, 4 ABI change, 8 incompatible change. Any of
# 4 or 8 fails: a change needs a deliberate new baseline in its own commit
# (tests/abi/update_baseline.sh).
# usage: check_abi.sh <libengage.so.1> <baseline.abi> <include dir>
set -u
lib=$1 base=$2 inc=$3
command -v abidiff >/dev/null || { echo "abidiff not installed (Debian: abigail-tools)"; exit 77; }
# Dump the current library exactly the way update_baseline.sh dumped the baseline.
cur=$(mktemp)
trap 'rm -f "$cur"' EXIT
abidw --no-show-locs --no-comp-dir-path --no-architecture --headers-dir "$inc" --out-file "$cur" "$lib" \
    || { echo "FAIL: abidw could not read $lib"; exit 1; }
out=$(abidiff --no-added-syms "$base" "$cur" 2>&1)
rc=$?
echo "$out"
if [ $((rc & 12)) -ne 0 ]; then
    echo "FAIL: ABI differs from the baseline (abidiff exit $rc)"; exit 1
fi
if [ $((rc & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not run (exit $rc)"; exit 1
fi
echo "ok: ABI matches the baseline"
