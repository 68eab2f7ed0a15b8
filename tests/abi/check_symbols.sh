#!/bin/sh
# Exported symbols, the version map and the ENG_API declarations must agree:
# every dynamic symbol the library defines is eng_* and versioned ENGAGE_1 (or a
# later node), and the three lists are identical.
# usage: check_symbols.sh <libengage.so> <src/libengage.map> <include dir>
set -eu
lib=$1 map=$2 inc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sort > "$tmp/exported_versioned"
bad=$(grep -v -E '^eng_[a-z0-9_]+@@ENGAGE_[0-9.]+$' "$tmp/exported_versioned" || true)
if [ -n "$bad" ]; then
    echo "FAIL: exported symbols without the eng_ prefix or an ENGAGE_ version:"; echo "$bad"; exit 1
fi
sed 's/@@.*//' "$tmp/exported_versioned" | sort > "$tmp/exported"
grep -E '^[[:space:]]+eng_[a-z0-9_]+;' "$map" | tr -d ' \t;' | sort > "$tmp/mapped"
# ENG_API declarations: the function name is the identifier right before '('.
python3 - "$inc" > "$tmp/declared" <<'PY'
import re, sys, glob, os
inc = sys.argv[1]
names = set()
for h in [os.path.join(inc, "engage.h")] + glob.glob(os.path.join(inc, "engage", "*.h")):
    text = re.sub(r"/\*.*?\*/", " ", open(h).read(), flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    names.update(re.findall(r"\bENG_API\b[^;{]*?\b(eng_\w+)\s*\(", text))
print("\n".join(sorted(names)))
PY
rc=0
if ! diff -u "$tmp/mapped" "$tmp/exported" > "$tmp/d1"; then
    echo "FAIL: src/libengage.map (-) differs from the library's exports (+):"; cat "$tmp/d1"; rc=1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" > "$tmp/d2"; then
    echo "FAIL: ENG_API declarations in include/ (-) differ from the library's exports (+):"; cat "$tmp/d2"; rc=1
fi
n=$(wc -l < "$tmp/exported")
[ $rc -eq 0 ] && echo "ok: $n exported symbols, all eng_*, versioned, mapped and declared"
exit $rc
