-- W7 in SQL, the same attribution and report as eng_measure_campaign(), for DuckDB and SQLite.
-- Tables: touches(cust, msg, ch, st, t), txns(id, cust, t, amount, store), control(cust).
-- Goal: amount > 3000.00 and store in 20 stores (codes 0..19), 30 days from delivered, last touch
-- (ties broken by message, then channel). A (customer, message, channel, status) counts once, at
-- its earliest time: W7's messages are one-off (occurrence 0), so that is the sending; a recurring
-- message's rows would also group by occurrence (tests/unit/measure/test_reference.c's SQL does).
-- Prints key,value rows; @W@ is the window in ms.
create temp table q as select id, cust, t, amount from txns where amount > 300000 and store < 20;
create temp table ft as select cust, msg, ch, min(t) t from touches
  where st = 1 and cust in (select cust from q) group by cust, msg, ch;
create temp table conv as select q.id, q.cust, q.amount, max(ft.t * 8192 + ft.msg * 16 + ft.ch) % 8192 k
  from q join ft on ft.cust = q.cust and ft.t <= q.t and q.t - ft.t <= @W@ group by q.id, q.cust, q.amount;
select 'responders', count(distinct cust) from conv;
select 'sales', sum(amount) from conv;
select 'mc' || cast(k as varchar), sum(amount) from conv group by k;
-- @REPORT@ the campaign report: status counts, contacted, control responders. Distinct customers
-- per (status, message, channel), summed: DuckDB's fastest of three forms tried at M (thread CPU
-- 3.6 s; count(distinct) of a packed key per status 4.2 s; a distinct table of the four columns 5.3 s).
select 'count' || cast(st as varchar), sum(n) from
  (select st, msg, ch, count(distinct cust) n from touches group by st, msg, ch) group by st;
select 'contacted', count(distinct cust) from touches where st = 0;
create temp table sent_at as select msg, min(t) t from touches where st = 0 group by msg;
select 'control_resp', count(distinct q.cust) from q join sent_at s on q.t >= s.t and q.t <= s.t + @W@
  where q.cust in (select cust from control);
