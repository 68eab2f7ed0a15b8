"""The campaign report as SQL run by sqlite3 (the stdlib module), written from the definitions of
include/engage/measure.h and docs/attribution.md, not from the library's code. The dataset
checks load the same rows into these tables and into libengage, then compare every figure.

Tables (load() creates them):
  touches(cust, msg, ch, st, t)   one row per status of one message to one customer
  txns(id, cust, t, amount, ...)  amount in 10^-4 currency units (exact); extra columns for goals
  control(cust)                   the control customers
  msgs(msg, ord, sent_at)         the campaign's messages in spec order; sent_at: when it went out

SQL computes counts and exact integer sums; only the last step (a ratio rounded half-even to the
currency's places, a normal tail probability) is done in Python on those integers."""
import math
import os
import sqlite3
from decimal import Decimal
from fractions import Fraction

STATUS = {"sent": 0, "delivered": 1, "opened": 2, "clicked": 3, "failed": 4, "unsubscribed": 5,
          "bounced": 6, "complained": 7}
# Exact shares: linear 1/k (k <= 16) and position based 1/(5 (k - 2)) (k <= 18) are whole multiples of
# 1/D when D is a common multiple of their denominators; any such D gives the same rounded figures.
D = 2 ** 4 * 3 ** 2 * 5 ** 2 * 7 * 11 * 13
MODELS = ("last_touch", "first_touch", "linear", "time_decay", "position")


def load(con, touches, txns, control, messages, sent_at=None, txn_extra=(), items=()):
    """touches: (cust, msg, ch, st, t); txns: (id, cust, t, amount_1e4, *extra); control: custs;
    messages: ids in spec order; sent_at: {msg: t} (None: the message's earliest sent touch);
    items: (txn id, sku) rows, the table items(id, sku) a condition may read."""
    con.execute("create table touches(cust int, msg int, ch int, st int, t int)")
    con.execute("create table txns(id text, cust int, t int, amount int%s)" % "".join(", " + c for c in txn_extra))
    con.execute("create table control(cust int)")
    con.execute("create table msgs(msg int primary key, ord int, sent_at int)")
    con.execute("create table items(id text, sku text)")
    con.executemany("insert into items values(?,?)", items)
    con.executemany("insert into touches values(?,?,?,?,?)", touches)
    con.executemany("insert into txns values(%s)" % ",".join("?" * (4 + len(txn_extra))), txns)
    con.executemany("insert into control values(?)", ((c,) for c in control))
    con.executemany("insert into msgs values(?,?,?)", ((m, i, (sent_at or {}).get(m)) for i, m in enumerate(messages)))
    con.execute("""update msgs set sent_at = (select min(t) from touches where st = 0 and touches.msg = msgs.msg)
                   where sent_at is null""")
    con.execute("create index tc on touches(cust)")
    con.execute("create index xc on txns(cust)")


def _he(x: Fraction) -> int:
    """Half-even rounding of an exact value (Python rounds a Fraction half to even)."""
    return round(x)


def _scope_figures(con, where, places, eligible_tbl, credit_tbl, goal, ctl_n, ctl_r, costs):
    """Figures of one scope: `where` restricts touches (e.g. 'msg = 3'), credit rows hold (id, cust,
    msg, ch, share_num, amount) with share_num/den of the amount credited."""
    f = {}
    q = con.execute
    counts = dict(q(f"""select st, count(*) from (select distinct cust, msg, ch, st from touches
                        where msg in (select msg from msgs) and {where}) group by st""").fetchall())
    f["contacted"] = q(f"select count(distinct cust) from touches where st = 0 and msg in (select msg from msgs) "
                       f"and {where}").fetchone()[0]
    f["sent"] = counts.get(0, 0)
    f["delivered"] = counts.get(1, 0)
    f["not_delivered"] = counts.get(4, 0) + counts.get(6, 0)
    f["opened"], f["clicked"], f["unsubscribed"] = counts.get(2, 0), counts.get(3, 0), counts.get(5, 0)
    f["credits_spent"] = sum(n * costs.get(ch, 0) for ch, n in q(
        f"""select ch, count(*) from (select distinct cust, msg, ch from touches where st = 0 and
            msg in (select msg from msgs) and {where}) group by ch""").fetchall())
    resp, conv, num, den = q(f"""select count(distinct cust), count(distinct id), coalesce(sum(num), 0), max(den)
                                 from {credit_tbl} where {where}""").fetchone()
    f["responders"], f["conversions"] = resp, conv
    sales = Fraction(num) / (den or 1) / 10 ** (4 - places)  # num is real for time decay
    f["responder_sales"] = _he(sales)
    f["hit_rate"] = 100.0 * resp / f["contacted"] if f["contacted"] else 0.0
    f["spend_per_responder"] = _he(sales / resp) if resp else None
    f["control_contacted"], f["control_responders"] = ctl_n, ctl_r
    f["control_hit_rate"] = 100.0 * ctl_r / ctl_n if ctl_n else None
    nt, nc = f["contacted"], ctl_n
    if nt and nc:
        pt, pc = resp / nt, ctl_r / nc
        se = math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
        f["lift"] = 100.0 * (pt - pc)
        f["lift_ci_low"], f["lift_ci_high"] = 100.0 * (pt - pc - 1.959963984540054 * se), 100.0 * (pt - pc + 1.959963984540054 * se)
        pp = (resp + ctl_r) / (nt + nc)
        sp = math.sqrt(pp * (1 - pp) * (1 / nt + 1 / nc))
        f["p_value"] = math.erfc(abs(pt - pc) / sp / math.sqrt(2)) if sp > 0 else 1.0
        # the seed: (test hit rate - control hit rate) x test contacted x spend per responder
        f["incremental_sales"] = _he(sales * Fraction(resp * nc - ctl_r * nt, resp * nc)) if resp else None
    else:
        f["lift"] = f["lift_ci_low"] = f["lift_ci_high"] = f["p_value"] = f["incremental_sales"] = None
    return f


def report(con, *, start, end, goal=None, condition_sql="1", half_life=7 * 86400000, places=2, costs=None):
    """The report: {"total": figures, "messages": {msg: figures}, "channels": {ch: figures}}.
    goal: None (the seed's hit-rate definition) or {"window_days", "start_on", "attribution"};
    condition_sql: the goal condition as a WHERE over txns (ignored without a goal)."""
    costs = costs or {}
    q = con.execute
    for t in ("q", "ft", "el", "credit"):
        q(f"drop table if exists temp.{t}")
    q(f"create temp table q as select id, cust, t, amount from txns where {condition_sql if goal else '1'}")
    q("create index temp.qc on q(cust)")
    if goal:
        w = goal["window_days"] * 86400000
        st = STATUS[goal.get("start_on", "sent")]
        model = goal.get("attribution", "last_touch")
        # earliest time of each (customer, message, channel) at the starting status
        q(f"""create temp table ft as select cust, msg, ch, min(t) t from touches
              where st = {st} and msg in (select msg from msgs) group by cust, msg, ch""")
        q(f"""create temp table el as select q.id, q.cust, q.t qt, q.amount, ft.msg, ft.ch, ft.t,
                row_number() over (partition by q.id order by ft.t, m.ord, ft.ch) i,
                count(*) over (partition by q.id) k
              from q join ft on ft.cust = q.cust and ft.t <= q.t and ft.t >= q.t - {w}
              join msgs m on m.msg = ft.msg""")
        if model == "time_decay":
            # real weights: compared to the cent with a tolerance (the library rounds each share)
            q(f"""create temp table credit as select id, cust, msg, ch, amount * wt / sw num, 1 den from
                  (select *, pow(2.0, -(qt - t) * 1.0 / {half_life}) wt,
                          sum(pow(2.0, -(qt - t) * 1.0 / {half_life})) over (partition by id) sw from el)""")
        else:
            share = {"last_touch": "case when i = k then D else 0 end",
                     "first_touch": "case when i = 1 then D else 0 end",
                     "linear": "D / k",
                     "position": """case when k = 1 then D when k = 2 then D / 2
                                               when i = 1 or i = k then D * 2 / 5 else D / 5 / (k - 2) end"""}[model]
            share = share.replace("D", str(D))
            keep_zero = model == "linear"  # linear credits every touch; the others only non-zero shares
            q(f"""create temp table credit as select id, cust, msg, ch, amount * ({share}) num, {D} den from el
                  where {'1' if keep_zero else f'({share}) > 0'}""")
        ctl_window = f"q.t >= m.sent_at and q.t <= m.sent_at + {w}"
    else:
        # no goal: a contacted customer's transactions from their first send to the campaign end,
        # each credited to the last send at or before it
        q("""create temp table ft as select cust, msg, ch, min(t) t from touches
             where st = 0 and msg in (select msg from msgs) group by cust, msg, ch""")
        q(f"""create temp table el as select q.id, q.cust, q.amount, ft.msg, ft.ch,
                row_number() over (partition by q.id order by ft.t desc, m.ord desc, ft.ch desc) i
              from q join ft on ft.cust = q.cust and ft.t <= q.t join msgs m on m.msg = ft.msg
              where q.t <= {end}""")
        q(f"create temp table credit as select id, cust, msg, ch, amount * {D} num, {D} den from el where i = 1")
        ctl_window = f"q.t >= m.sent_at and q.t <= {end}"
    ctl_n = q("select count(distinct cust) from control").fetchone()[0]
    ctl_any = q(f"""select count(distinct c.cust) from control c join q on q.cust = c.cust
                    join msgs m on m.sent_at is not null and {ctl_window}""").fetchone()[0]
    out = {"total": _scope_figures(con, "1", places, "el", "credit", goal, ctl_n, ctl_any, costs),
           "messages": {}, "channels": {}}
    for (m,) in q("select msg from msgs order by ord").fetchall():
        cr = q(f"""select count(distinct c.cust) from control c join q on q.cust = c.cust
                   join msgs m on m.msg = {m} and m.sent_at is not null and {ctl_window}""").fetchone()[0]
        out["messages"][m] = _scope_figures(con, f"msg = {m}", places, "el", "credit", goal, ctl_n, cr, costs)
    for (ch,) in q("select distinct ch from touches where st = 0 and msg in (select msg from msgs)").fetchall():
        out["channels"][ch] = _scope_figures(con, f"ch = {ch}", places, "el", "credit", goal, ctl_n, ctl_any, costs)
    return out


MONEY = ("responder_sales", "spend_per_responder", "incremental_sales")


def compare(label, ours, ref, places=2, money_tol=0, failures=None):
    """Compare one scope's figures (ours: the binding's dict, money as Decimal) with the reference.
    Returns a list of mismatch strings (also appended to failures)."""
    bad = []
    for k, rv in ref.items():
        ov = ours.get(k)
        if k in MONEY:
            ov = None if ov is None else int(ov * 10 ** places)
            ok = (ov is None) == (rv is None) and (rv is None or abs(ov - rv) <= money_tol)
        elif isinstance(rv, float) or rv is None:
            ok = (ov is None) == (rv is None) and (rv is None or math.isclose(ov, rv, rel_tol=1e-9, abs_tol=1e-9))
        else:
            ok = ov == rv
        if not ok:
            bad.append(f"{label}: {k} ours {ov} sql {rv}")
    if failures is not None:
        failures.extend(bad)
    return bad


def check_report(label, rep, ref, failures, table, cpu, msg_ids=None, tol=0):
    """Compare a Report (total, each message, each channel) with report()'s figures; msg_ids maps the
    reference's message ids to the report's (None: the same). Appends a row to table."""
    fail = []
    compare(label + " total", rep.total(), ref["total"], failures=fail)
    by_id = {x["message"]: x for x in rep.messages()}
    for m, f in ref["messages"].items():
        compare(f"{label} message {m}", by_id.get((msg_ids or {}).get(m, m), {}), f, money_tol=tol, failures=fail)
    for ch, f in ref["channels"].items():
        compare(f"{label} channel {ch}", rep.channel(ch), f, money_tol=tol, failures=fail)
    failures.extend(fail)
    path, _, name = label.partition("/")
    table.append((path, name, rep.total(), ref["total"], not fail, cpu))


def print_table(table, failures, keys):
    """The figures side by side, the mismatches, and the exit code (0: every figure equal)."""
    print("figure, ours, SQL's")
    for path_name, label, ours, ref, ok, cpu in table:
        print(f"\n[{path_name}] {label}: {'equal' if ok else 'DIFFERENT'} (report {cpu * 1000:.0f} ms CPU)")
        for k in keys:
            rv = ref[k] if k not in MONEY or ref[k] is None else Decimal(ref[k]) / 100
            print(f"  {k:20} {str(ours[k]):>22} {str(rv):>22}")
    for f in failures:
        print("MISMATCH", f)
    print("FAIL" if failures else "OK: every figure equal to SQL's")
    return 1 if failures else 0


def dataset_path(argv, env, name):
    """The dataset file from the command line or the environment, or None (after saying why)."""
    path = argv[1] if len(argv) > 1 else os.environ.get(env, "")
    if path and os.path.exists(path):
        return path
    print(f"SKIP: the {name} CSV is not here (give its path as the argument or in {env}; "
          "tests/datasets/README.md says where to get it)")
    return None


def connect():
    con = sqlite3.connect(":memory:")
    return con
