// W1 in DuckDB (single thread; W3 is w3_duckdb.mjs), on the CSV files bench_audience writes:
//   node audience_duckdb.mjs <customers.csv> <members.csv> <reach.csv> <reps>
// Prints "count <n>", "test <n>" and "best_ms <ms>".
// Needs @duckdb/node-api in tests/bench/node_modules (bench_audience skips it otherwise).
import { DuckDBInstance } from '@duckdb/node-api';

const [customers, members, reach, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
let t0;
void customers; // the customers file is not needed for W1
await conn.run(`create table members as select * from read_csv('${members}', header = true,
  columns = {'grp': 'INTEGER', 'cust': 'BIGINT'})`);
await conn.run(`create table reach as select * from read_csv('${reach}', header = true,
  columns = {'cust': 'BIGINT', 'email': 'INTEGER'})`);
const sql = `with aud as (select cust from members where grp in (1, 2, 3) except select cust from members where grp = 4)
  select count(*), sum(case when ((a.cust * 2654435761) % 1000) < 900 then 1 else 0 end)
  from aud a join reach r on r.cust = a.cust where r.email = 1`;
let best = Infinity, count = -1, test = -1;
for (let i = 0; i < reps; i++) {
  t0 = performance.now();
  const reader = await conn.runAndReadAll(sql);
  const t1 = performance.now();
  const row = reader.getRows()[0];
  count = Number(row[0]);
  test = Number(row[1]);
  best = Math.min(best, t1 - t0);
}
console.log(`count ${count}`);
console.log(`test ${test}`);
console.log(`best_ms ${best.toFixed(3)}`);
