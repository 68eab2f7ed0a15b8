// W2 in DuckDB (single thread): node w2_duckdb.mjs <csv> <reps>
// Each layout and query form below runs <reps> times; prints "form <name> rows <n> ms <best ms>
// cpu_ms <best CPU ms>" per form, then "count <n>", "best_ms <ms>" and "best_cpu_ms <ms>" (process CPU
// time, the steadier figure on a shared machine) of the fastest form (all forms must count the same rows).
// The best layout is tier and city as ENUM columns (DuckDB's dictionary type).
// Needs @duckdb/node-api in tests/bench/node_modules.
import { DuckDBInstance } from '@duckdb/node-api';

const [csv, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
await conn.run(`create table c as select * from read_csv('${csv}', header = true,
  columns = {'tier': 'VARCHAR', 'days_since_purchase': 'BIGINT', 'city': 'VARCHAR'})`);
// ENUM types hold every value present plus the literals of the query, so the literals cast.
await conn.run(`create type tier_e as enum (select distinct v from (select tier as v from c union
  select unnest(['gold', 'platinum'])) where v is not null order by v)`);
await conn.run(`create type city_e as enum (select distinct v from (select city as v from c union select 'Pune')
  where v is not null order by v)`);
await conn.run(`create table ce as select tier::tier_e as tier, days_since_purchase::integer as days_since_purchase,
  city::city_e as city from c`);
// and days as SMALLINT: the layout of libengage's days16 line
await conn.run(`create table ce16 as select tier, days_since_purchase::smallint as days_since_purchase, city from ce`);
const forms = [
  ['varchar', `select count(*) from c where tier in ('gold', 'platinum') and days_since_purchase > 30 and city = 'Pune'`],
  ['enum', `select count(*) from ce where tier in ('gold', 'platinum') and days_since_purchase > 30 and city = 'Pune'`],
  ['enum_typed_literals', `select count(*) from ce where tier in ('gold'::tier_e, 'platinum'::tier_e)
    and days_since_purchase > 30 and city = 'Pune'::city_e`],
  ['enum_city_first', `select count(*) from ce where city = 'Pune' and days_since_purchase > 30
    and tier in ('gold', 'platinum')`],
  ['enum_smallint_typed_literals', `select count(*) from ce16 where tier in ('gold'::tier_e, 'platinum'::tier_e)
    and days_since_purchase > 30 and city = 'Pune'::city_e`],
];
let best = Infinity, bestCpu = Infinity, count = -1;
for (const [name, sql] of forms) {
  let b = Infinity, bc = Infinity, n = -1;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    const reader = await conn.runAndReadAll(sql);
    const t1 = performance.now(), c1 = process.cpuUsage(c0);
    bc = Math.min(bc, (c1.user + c1.system) / 1e3);
    n = Number(reader.getRows()[0][0]);
    b = Math.min(b, t1 - t0);
  }
  console.log(`form ${name} rows ${n} ms ${b.toFixed(3)} cpu_ms ${bc.toFixed(3)}`);
  if (count >= 0 && n !== count) {
    console.log(`forms differ: ${name} counts ${n}, earlier forms ${count}`);
    process.exit(1);
  }
  count = n;
  best = Math.min(best, b);
  bestCpu = Math.min(bestCpu, bc);
}
console.log(`count ${count}`);
console.log(`best_ms ${best.toFixed(3)}`);
console.log(`best_cpu_ms ${bestCpu.toFixed(3)}`);
