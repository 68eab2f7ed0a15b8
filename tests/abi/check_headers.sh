#!/bin/sh
# Every public header compiles on its own as C99 -pedantic and as C++.
# usage: check_headers.sh <cc> <c++ or ""> <source include dir> <build include dir>
set -eu
cc=$1 cxx=$2 inc=$3 binc=$4
n=0
for h in "$inc"/engage.h "$inc"/engage/*.h; do
    rel=${h#"$inc"/}
    printf '#include "%s"\nint main(void) { return 0; }\n' "$rel" > /tmp/eng_hdr_$$.c
    "$cc" -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$inc" -I"$binc" /tmp/eng_hdr_$$.c \
        || { echo "FAIL: $rel as C99"; rm -f /tmp/eng_hdr_$$.c; exit 1; }
    if [ -n "$cxx" ]; then
        "$cxx" -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ -I"$inc" -I"$binc" /tmp/eng_hdr_$$.c \
            || { echo "FAIL: $rel as C++"; rm -f /tmp/eng_hdr_$$.c; exit 1; }
    fi
    n=$((n + 1))
done
rm -f /tmp/eng_hdr_$$.c
echo "ok: $n headers compile alone as C99${cxx:+ and C++}"
