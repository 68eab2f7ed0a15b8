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
cur=$(mktemp) supp=$(mktemp)
trap 'rm -f "$cur" "$supp"' EXIT
abidw --no-show-locs --no-comp-dir-path --no-architecture --headers-dir "$inc" --out-file "$cur" "$lib" \
    || { echo "FAIL: abidw could not read $lib"; exit 1; }
# The opaque handles (declared in a public header, defined only in src/) are not
# ABI: the caller holds pointers and never sees their layout, so their members are
# free to change. Every other type reachable from an exported function still counts.
for t in $(grep -ho 'typedef struct eng_[a-z0-9_]* eng_[a-z0-9_]*;' "$inc"/engage.h "$inc"/engage/*.h \
        | awk '{print $3}' | sort -u); do
    grep -q "^struct $t {" "$inc"/engage.h "$inc"/engage/*.h && continue
    printf '[suppress_type]\n  type_kind = struct\n  name = %s\n\n' "$t" >> "$supp"
done
out=$(abidiff --no-added-syms --suppressions "$supp" "$base" "$cur" 2>&1)
rc=$?
echo "$out"
if [ $((rc & 12)) -ne 0 ]; then
    echo "FAIL: ABI differs from the baseline (abidiff exit $rc)"; exit 1
fi
if [ $((rc & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not run (exit $rc)"; exit 1
fi
echo "ok: ABI matches the baseline"
