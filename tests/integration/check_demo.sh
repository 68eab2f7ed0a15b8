#!/bin/sh
# The README's demo: a first run builds a campaign on a new file store, a second
# run reopens the file and finds everything (approved message, frozen audience,
# verified audit chain).
# usage: check_demo.sh <engage-demo>
set -eu
demo=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$demo" "$dir/engage.db" > "$dir/run1.out" || { cat "$dir/run1.out"; echo "FAIL: first run"; exit 1; }
"$demo" "$dir/engage.db" > "$dir/run2.out" || { cat "$dir/run2.out"; echo "FAIL: second run"; exit 1; }
for want in "opened 2 times" "5000 customers, 1 campaign" "approved by ravi" "frozen audience:" "audit chain: verified"; do
    grep -q "$want" "$dir/run2.out" || { cat "$dir/run2.out"; echo "FAIL: second run lacks '$want'"; exit 1; }
done
# The reopened state is the state the first run left.
a=$(grep "frozen audience:" "$dir/run1.out") b=$(grep "frozen audience:" "$dir/run2.out")
[ "$a" = "$b" ] || { echo "FAIL: frozen audience differs after reopen: '$a' vs '$b'"; exit 1; }
echo "ok: demo builds a campaign, and a reopen finds it unchanged"
