#!/bin/sh
# Run a libFuzzer binary for a fixed number of inputs, starting from the checked-in
# corpus; new inputs go to a temporary folder so the corpus only changes by hand.
# -entropic=0: see soak.sh (the default schedule's cost grows with the square of the features).
# usage: run_fuzzer.sh <fuzzer> <corpus-dir> <runs>
set -eu
fuzzer=$1 corpus=$2 runs=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$fuzzer" -runs="$runs" -max_len=4096 -entropic=0 -seed=1 -artifact_prefix="$tmp/" "$tmp" "$corpus" 2>"$tmp/log" || {
    tail -n 40 "$tmp/log"; echo "FAIL: $(basename "$fuzzer") found a failing input"; exit 1; }
tail -n 2 "$tmp/log"
