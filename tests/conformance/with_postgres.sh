#!/bin/sh
# usage: with_postgres.sh <work dir> <command> [args...]
#
# Runs <command> against a private PostgreSQL server and stops the server
# afterwards, whatever the outcome: initdb makes a data directory under
# <work dir>/pg, the server listens on a free port on 127.0.0.1 (and on a Unix
# socket in that directory), and <command> gets its libpq connection string in
# ENGAGE_PG_CONNINFO. The server refuses to run as root, so as root it runs as
# the system user `postgres` (created by Debian's package). fsync is off: the
# tests kill clients, never the server. ENGAGE_PG_OPTS adds server options
# (e.g. "-c shared_preload_libraries=pg_stat_statements" for a measurement);
# <command> also gets the server's process id in ENGAGE_PG_PID (its backends
# are its children: their CPU time is the server's) and the server's log in
# ENGAGE_PG_LOG (serialization failures are counted there). Exits 77 (meson:
# skipped) only when the server binaries are absent.
set -eu
work=$1
shift
bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
done
if [ -z "$bindir" ]; then
    echo "SKIP: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); install Debian's postgresql package"
    exit 77
fi

as_user() { "$@"; }
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
    user=postgres
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    fi
    as_user() { runuser -u "$user" -- "$@"; }
fi

mkdir -p "$work"
dir=$(cd "$work" && pwd)/pg
rm -rf "$dir"
mkdir -p "$dir"
# The server's user must reach the directory and the socket path must fit in
# sun_path (107 bytes); otherwise use a directory under /tmp.
[ "$user" = "$(id -un)" ] || chown "$user" "$dir"
if ! as_user test -w "$dir" || [ ${#dir} -gt 80 ]; then
    rm -rf "$dir"
    dir=$(mktemp -d /tmp/engage-pg-XXXXXX)
    [ "$user" = "$(id -un)" ] || chown "$user" "$dir"
fi

stop() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

t0=$(date +%s.%N)
as_user "$bindir/initdb" -D "$dir/data" -U engage -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log"; exit 1; }
started=""
for try in 1 2 3 4 5; do
    port=$(( 20000 + ($$ * 7 + try * 7919) % 40000 ))
    if as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=30 ${ENGAGE_PG_OPTS:-}" \
        start >/dev/null 2>&1; then
        started=1
        break
    fi
done
if [ -z "$started" ]; then
    echo "PostgreSQL did not start:"; cat "$dir/server.log"; exit 1
fi
t1=$(date +%s.%N)
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data $dir/data), up in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
ENGAGE_PG_CONNINFO="host=127.0.0.1 port=$port user=engage dbname=postgres connect_timeout=10"
ENGAGE_PG_PID=$(head -n 1 "$dir/data/postmaster.pid")
ENGAGE_PG_LOG="$dir/server.log"
export ENGAGE_PG_CONNINFO ENGAGE_PG_PID ENGAGE_PG_LOG
set +e
"$@"
rc=$?
set -e
[ $rc = 0 ] || { echo "--- server log:"; tail -n 30 "$dir/server.log"; }
exit $rc
