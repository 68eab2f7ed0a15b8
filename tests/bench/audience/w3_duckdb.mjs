// W3 in DuckDB (one thread): read_csv with every column's type declared, into a table.
//   node w3_duckdb.mjs <customers.csv> <reps>
// Prints "best_ms <ms>", "cpu_ms <ms of that run>" and "count <rows>".
import { DuckDBInstance } from '@duckdb/node-api';

const [csv, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
const sql = `create or replace table customers as select * from read_csv('${csv}', header = true,
  auto_detect = false, delim = ',', quote = '"', escape = '"', dateformat = '%Y-%m-%d',
  columns = {'id': 'VARCHAR', 'city': 'VARCHAR', 'tier': 'VARCHAR', 'age': 'BIGINT', 'spend': 'DECIMAL(18,2)',
             'last_purchase': 'DATE', 'contact.email': 'VARCHAR', 'consent.email': 'BOOLEAN',
             'contact.sms': 'VARCHAR', 'consent.sms': 'BOOLEAN'})`;
let best = Infinity, bestCpu = 0;
for (let i = 0; i < reps; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await conn.run(sql);
  const t = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (t < best) {
    best = t;
    bestCpu = (c.user + c.system) / 1e3;
  }
}
const rows = (await conn.runAndReadAll('select count(*) from customers')).getRows();
console.log(`best_ms ${best.toFixed(3)}`);
console.log(`cpu_ms ${bestCpu.toFixed(3)}`);
console.log(`count ${Number(rows[0][0])}`);
