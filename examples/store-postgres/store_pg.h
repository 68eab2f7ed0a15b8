/* A libengage storage backend over PostgreSQL (libpq) — an example to copy.
 *
 * One table (default "engage_kv": k bytea PRIMARY KEY, v bytea NOT NULL); bytea
 * compares bytewise, so the primary key's order is the contract's memcmp
 * order. A libengage batch is one SERIALIZABLE transaction, so a second writer
 * on the same rows can never make an update vanish: one of the two gets
 * ENG_EBUSY (SQLSTATE 40001/40P01) and retries its batch. Scans read pages of
 * rows in key order from one snapshot. Libengage itself does not link libpq;
 * build this file with the host and link -lpq. It passes the storage
 * conformance suite (tests/conformance/) against a real server.
 *
 * Errors: a lost connection is ENG_ESTORAGE with "connection lost" in the
 * message. Outside a batch the next call reconnects (and a get, put, delete or
 * scan that met the loss is retried once: each is idempotent). Inside a batch
 * the batch is gone: the call fails, the library rolls back, and the next
 * call reconnects. A commit that loses its connection reports that the outcome
 * is unknown. Serialization conflicts and deadlocks are ENG_EBUSY. */
#ifndef STORE_PG_H
#define STORE_PG_H

#include <engage.h>

/* store_pg_open() flag: batches run READ COMMITTED instead of SERIALIZABLE
 * (slightly cheaper; only safe with a single engine writing the table). */
#define STORE_PG_READ_COMMITTED 0x1u
/* store_pg_open() flag: several engines (processes, machines) share the table.
 * Every commit also logs the key prefixes it wrote in "<table>_changes"
 * (pruned to the last 100,000 rows, "<table>_horizon" says how far), and
 * the store reports them through the storage contract's `changes` (version
 * 3), so each engine drops what it cached of another's writes and a batch
 * built on a stale cache fails with ENG_EBUSY instead of overwriting them.
 * Batches must stay SERIALIZABLE (not with STORE_PG_READ_COMMITTED). */
#define STORE_PG_SHARED 0x2u

/* Connect with libpq's @p conninfo ("host=... port=... dbname=...") and use
 * @p table (NULL: "engage_kv"; created if missing) as a libengage store.
 * @p alloc: for the store handle, or NULL. On failure *out is NULL and the
 * code is ENG_ESTORAGE (or ENG_EINVAL), with the server's message. */
int store_pg_open(const char *conninfo, const char *table, unsigned flags, const eng_allocator *alloc,
                  eng_store **out);

#endif
