/* A libengage storage backend over SQLite — an example to copy into a host.
 *
 * One table (default "engage_kv", BLOB keys and values, WITHOUT ROWID so the
 * primary key's B-tree is the table and its BLOB order is memcmp order), the
 * database in WAL mode, one SQLite transaction per libengage batch. Build it
 * with the host, link -lsqlite3; libengage itself does not depend on SQLite.
 * It passes the storage conformance suite (tests/conformance/). */
#ifndef STORE_SQLITE_H
#define STORE_SQLITE_H

#include <engage.h>

/* store_sqlite_open() flag: create the database file if missing. */
#define STORE_SQLITE_CREATE 0x1u
/* Flag: synchronous=NORMAL instead of FULL. A process crash still loses no
 * commit; a power loss may lose the last ones (never corrupts). */
#define STORE_SQLITE_NOSYNC 0x4u
/* Flag: several engines share the database (several processes on one
 * machine, or threads each with a handle). Every commit also logs its key
 * prefixes in "<table>_changes" and the handle implements the storage
 * contract's `changes` (v3), so each engine drops what it cached of another's
 * writes and executions are shared through chunk leases. Every handle on the
 * database must use it. Batches are BEGIN IMMEDIATE: one writer at a time. */
#define STORE_SQLITE_SHARED 0x8u

/* Open the database at @p path as a libengage store (the table is created if
 * missing). @p table: NULL for "engage_kv". @p alloc: for the store handle, or
 * NULL. On failure *out is NULL and the code is ENG_ENOTFOUND (no file, no
 * CREATE), ENG_ECORRUPT (not a database), ENG_EBUSY, ENG_EIO or ENG_ESTORAGE,
 * with SQLite's message in eng_error_last(). */
int store_sqlite_open(const char *path, const char *table, unsigned flags, const eng_allocator *alloc,
                      eng_store **out);

#endif
