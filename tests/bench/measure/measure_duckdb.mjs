// W7 in DuckDB (single thread) on the CSV files bench_measure writes:
//   node measure_duckdb.mjs <dir> <window_ms> <reps>
// Runs w7.sql; prints its key,value rows, then "load_ms <ms>", "attr_ms <ms>" (best attribution
// part), "best_ms <ms>" (best whole report) and "best_cpu_ms <ms>" (the process's CPU time over
// the best report: user + system, one DuckDB thread). The tables are kept in <dir>/w7.duckdb, so
// the CSV files are parsed once.
// Needs @duckdb/node-api in tests/bench/node_modules (bench_measure skips it otherwise).
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [dir, win, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const here = dirname(fileURLToPath(import.meta.url));
const text = readFileSync(join(here, 'w7.sql'), 'utf8').replaceAll('@W@', win);
const cut = text.indexOf('-- @REPORT@');
const split = (s) => s.split(/;\s*\n/).map((x) => x.replace(/^\s*--.*$/gm, '').trim()).filter((x) => x.length);
const attr = split(text.slice(0, cut)), report = split(text.slice(cut));
const instance = await DuckDBInstance.create(join(dir, 'w7.duckdb'), { threads: '1' });
const conn = await instance.connect();
let t0 = performance.now();
// control is created last: a file without it was cut short, and is loaded again
const have = await conn.runAndReadAll(`select count(*) from information_schema.tables where table_name = 'control'`);
if (Number(have.getRows()[0][0]) === 0) {
  for (const tb of ['touches', 'txns']) await conn.run(`drop table if exists ${tb}`);
  await conn.run(`create table touches as select * from read_csv('${dir}/touches.csv', header = false,
    columns = {'cust': 'INTEGER', 'msg': 'INTEGER', 'ch': 'UTINYINT', 'st': 'UTINYINT', 't': 'BIGINT'})`);
  await conn.run(`create table txns as select * from read_csv('${dir}/txns.csv', header = false,
    columns = {'id': 'INTEGER', 'cust': 'INTEGER', 't': 'BIGINT', 'amount': 'BIGINT', 'store': 'INTEGER'})`);
  await conn.run(`create table control as select * from read_csv('${dir}/control.csv', header = false,
    columns = {'cust': 'INTEGER'})`);
  await conn.run('checkpoint');
}
console.log(`load_ms ${(performance.now() - t0).toFixed(1)}`);
let bestAll = Infinity, bestAttr = Infinity, bestCpu = Infinity, rows = [];
for (let i = 0; i < reps; i++) {
  for (const tb of ['q', 'ft', 'conv', 'dd', 'sent_at']) await conn.run(`drop table if exists ${tb}`);
  rows = [];
  const c0 = process.cpuUsage();
  t0 = performance.now();
  for (const s of attr) {
    const r = await conn.runAndReadAll(s);
    rows.push(...r.getRows());
  }
  const t1 = performance.now();
  for (const s of report) {
    const r = await conn.runAndReadAll(s);
    rows.push(...r.getRows());
  }
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  bestAttr = Math.min(bestAttr, t1 - t0);
  bestAll = Math.min(bestAll, t2 - t0);
  bestCpu = Math.min(bestCpu, (c.user + c.system) / 1000);
}
for (const r of rows) if (r.length === 2) console.log(`${r[0]},${r[1]}`);
console.log(`attr_ms ${bestAttr.toFixed(1)}`);
console.log(`best_ms ${bestAll.toFixed(1)}`);
console.log(`best_cpu_ms ${bestCpu.toFixed(1)}`);

