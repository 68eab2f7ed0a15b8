#!/bin/sh
# The shared library's soname is pinned: changing it is an ABI break (docs/abi-policy.md).
# usage: check_soname.sh <libengage.so> <expected major>
set -eu
soname=$(readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libengage.so.$2" ] || { echo "FAIL: soname is '$soname', expected libengage.so.$2"; exit 1; }
echo "ok: soname $soname"
