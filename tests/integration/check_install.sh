#!/bin/sh
# Install into a temporary DESTDIR, then build the README's embedding example and
# examples/campaign_workflow.c against the *installed* library found through
# pkg-config, both shared and static, and run them; the demo (examples/demo/,
# run by demo_report) is built against it too.
# usage: check_install.sh <builddir> <srcdir> <cc>
set -eu
build=$1 src=$2 cc=$3
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pc=$(find "$dest" -name libengage.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: libengage.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
pkg-config --exists libengage || { echo "FAIL: pkg-config cannot find libengage"; exit 1; }
libdir=$(pkg-config --variable=libdir libengage)
case "$libdir" in "$dest"*) ;; *) libdir="$dest$libdir" ;; esac # pkgconf applies the sysroot itself

# The README's example, exactly as printed there.
sed -n '/<!-- embed-example:begin -->/,/<!-- embed-example:end -->/p' "$src/README.md" \
    | sed '1,2d;$d' | sed '$d' > "$dest/embed.c"
[ -s "$dest/embed.c" ] || { echo "FAIL: no embedding example found in README.md"; exit 1; }
for prog in "$dest/embed.c" "$src/examples/campaign_workflow.c"; do
    name=$(basename "$prog" .c)
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -o "$dest/$name" "$prog" $(pkg-config --cflags --libs libengage)
    (cd "$dest" && LD_LIBRARY_PATH="$libdir" "./$name") > "$dest/$name.out" \
        || { echo "FAIL: $name exited non-zero"; cat "$dest/$name.out"; exit 1; }
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -o "$dest/$name-static" "$prog" \
        $(pkg-config --cflags libengage) "$libdir/libengage.a" -lpthread -lm
    (cd "$dest" && "./$name-static") > /dev/null || { echo "FAIL: static $name exited non-zero"; exit 1; }
    echo "ok: $name built against the installed library (shared and static) and ran"
done
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror -o "$dest/engage-demo" "$src/examples/demo/demo.c" "$src/examples/demo/html.c" \
    $(pkg-config --cflags --libs libengage) -lm || { echo "FAIL: the demo does not build against the installed library"; exit 1; }
echo "ok: the demo builds against the installed library"
grep -q "libengage" "$dest/embed.out" || { echo "FAIL: embed example printed nothing useful"; exit 1; }
