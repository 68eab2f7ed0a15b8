// W6 in DuckDB (single thread): load the touch CSV bench_w6 writes into a typed
// table of a database file, the same rows libengage and SQLite load.
//   node events_duckdb.mjs <touches.csv> <db-file>
// Prints "ingest_ms <ms>" (read_csv into the table, then CHECKPOINT) and "rows <n>".
import { DuckDBInstance } from '@duckdb/node-api';

const [csv, db] = process.argv.slice(2);
const instance = await DuckDBInstance.create(db, { threads: '1' });
const conn = await instance.connect();
await conn.run(`create table touches (time BIGINT, customer UINTEGER, campaign UINTEGER, message UINTEGER,
  version UINTEGER, occurrence UINTEGER, channel UTINYINT, status UTINYINT, key VARCHAR)`);
const t0 = performance.now();
await conn.run(`insert into touches select * from read_csv('${csv}', header = true, columns = {
  'time': 'BIGINT', 'customer': 'UINTEGER', 'campaign': 'UINTEGER', 'message': 'UINTEGER', 'version': 'UINTEGER',
  'occurrence': 'UINTEGER', 'channel': 'UTINYINT', 'status': 'UTINYINT', 'key': 'VARCHAR'})`);
await conn.run('checkpoint');
console.log(`ingest_ms ${(performance.now() - t0).toFixed(3)}`);
const r = await conn.runAndReadAll('select count(*) from touches');
console.log(`rows ${Number(r.getRows()[0][0])}`);
