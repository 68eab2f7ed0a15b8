// W2 in DuckDB (single thread): node w2_duckdb.mjs <csv> <reps>
// Prints "count <n>" and "best_ms <ms>". Needs @duckdb/node-api in tests/bench/node_modules.
import { DuckDBInstance } from '@duckdb/node-api';

const [csv, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
await conn.run(`create table c as select * from read_csv('${csv}', header = true,
  columns = {'tier': 'VARCHAR', 'days_since_purchase': 'BIGINT', 'city': 'VARCHAR'})`);
const sql = `select count(*) from c where tier in ('gold', 'platinum') and days_since_purchase > 30 and city = 'Pune'`;
let best = Infinity, count = -1;
for (let i = 0; i < reps; i++) {
  const t0 = performance.now();
  const reader = await conn.runAndReadAll(sql);
  const t1 = performance.now();
  count = Number(reader.getRows()[0][0]);
  best = Math.min(best, t1 - t0);
}
console.log(`count ${count}`);
console.log(`best_ms ${best.toFixed(3)}`);
