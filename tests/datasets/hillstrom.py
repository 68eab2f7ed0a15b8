"""Kevin Hillstrom's MineThatData e-mail experiment through the campaign report, against SQL.

64,000 customers were split at random three ways: a men's e-mail, a women's e-mail, no e-mail
(control); visits, conversions and spend were followed for two weeks. Here the two e-mails are the
two messages of one campaign (channel email, sent and delivered to every treated customer at T0; a
visit is an open and a click), a conversion is a transaction of `spend` within the two weeks, and
the No E-Mail customers are the control. The data has no times: this script gives every event a
deterministic time from its row number (a visit within 10 days of the send, the purchase 1 to 72
hours after the visit; a control purchase within 13 days), written below.

Two paths, each compared figure by figure with sqlref.report() on the same rows:
  columns  eng_measure_campaign over the rows (the control given explicitly);
  engine   the customers imported, groups, one campaign per goal whose control list is the No E-Mail
           group (control_group), a message per e-mail sent by the executor through a Python
           transport, receipts and transactions appended, eng_campaign_report.

Run: python3 tests/datasets/hillstrom.py [hillstrom.csv]   (or ENGAGE_HILLSTROM_CSV; exit 77 when
absent). Needs the built library: ENGAGE_LIBRARY=build/src/libengage.so PYTHONPATH=bindings/python."""
import csv
import os
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(__file__))
import sqlref  # noqa: E402

import engage  # noqa: E402

T0 = 1204502400000  # 2008-03-03 00:00 UTC, a Monday of the year the experiment ran
HOUR, DAY = engage.HOUR, engage.DAY
END = T0 + 14 * DAY
EMAIL = 1  # channel number of email (engage.channels())
SEGMENTS = {"Mens E-Mail": 1, "Womens E-Mail": 2, "No E-Mail": 0}


def read(path):
    """Rows of the file, either header form (segment or treatment)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    key = "segment" if "segment" in rows[0] else "treatment"
    out = []
    for i, r in enumerate(rows):
        out.append({"cust": i, "msg": SEGMENTS[r[key]], "visit": int(r["visit"]),
                    "conversion": int(r["conversion"]), "spend": Decimal(r["spend"])})
    return out


def events(rows):
    """(touches, txns, control) in the sqlref shapes, times from the row number."""
    touches, txns, control = [], [], []
    for r in rows:
        c = r["cust"]
        visit_t = T0 + (1 + c % 240) * HOUR  # within 10 days of the send
        if r["msg"]:
            touches += [(c, r["msg"], EMAIL, 0, T0), (c, r["msg"], EMAIL, 1, T0 + 60000)]
            if r["visit"]:
                touches += [(c, r["msg"], EMAIL, 2, visit_t), (c, r["msg"], EMAIL, 3, visit_t + 60000)]
            buy_t = visit_t + (1 + c % 72) * HOUR
        else:
            control.append(c)
            buy_t = T0 + (2 + c % 311) * HOUR
        if r["conversion"]:
            txns.append((f"H{c}", c, buy_t, int(r["spend"] * 10000)))
    return touches, txns, control


GOALS = [
    ("hit rate (no goal)", None, "1"),
    ("spend >= 100, 14 days from sent, last touch", {"window_days": 14, "start_on": "sent",
                                                      "attribution": "last_touch"}, "amount >= 1000000"),
    ("any spend, 2 days from clicked, first touch", {"window_days": 2, "start_on": "clicked",
                                                     "attribution": "first_touch"}, "amount > 0"),
    ("any spend, 3 days from opened, linear", {"window_days": 3, "start_on": "opened",
                                               "attribution": "linear"}, "amount > 0"),
]
LIB_CONDITION = {"1": None, "amount >= 1000000": "amount >= 100", "amount > 0": "amount > 0"}


def _goal(g, cond):
    return dict(g, event="transaction", condition=LIB_CONDITION[cond]) if g else None


def columns_path(eng, rows, touches, txns, control, con, failures, table):
    tch = [{"customer": c, "message": m, "channel": ch, "status": st, "time": t} for c, m, ch, st, t in touches]
    txs = [{"customer": c, "time": t, "amount": Decimal(a) / 10000} for _, c, t, a in txns]
    for label, g, cond in GOALS:
        ref = sqlref.report(con, start=T0, end=END, goal=g, condition_sql=cond, costs={EMAIL: 1})
        t0 = time.process_time()
        with eng.measure_campaign(tch, txs, messages=[1, 2], n_customers=len(rows), start=T0, end=END,
                                  goal=_goal(g, cond), control=control, message_sent_at=[T0, T0],
                                  channel_costs={"email": 1},
                                  fields=[("amount", "decimal")] if g else ()) as rep:
            cpu = time.process_time() - t0
            sqlref.check_report("columns/" + label, rep, ref, failures, table, cpu)


def engine_path(rows, touches, txns, control, con, failures, table):
    """The same experiment played through the engine's own stores."""
    now = [T0 - DAY]
    sent = {}  # idempotency key -> (customer external id, message)

    def transport(envs):
        for e in envs:
            sent[e.key] = e
        return ["accepted"] * len(envs)
    with engage.Engine(transport=transport, clock=lambda: now[0], threads=1) as eng:
        eng.create_org("mtd", "admin", conversion_goals=True, channel_costs={"email": 1})
        eng.put_actor("admin", "author", ["author"])
        eng.put_actor("admin", "approver", ["approver"])
        eng.setup_unsubscribe("admin", "https://minethatdata.example/u", b"sixteen-bytes-secret")
        t0 = time.process_time()
        lines = ["id,contact.email,consent.email"] + [f"H{r['cust']},h{r['cust']}@example.com,yes" for r in rows]
        eng.import_csv("admin", "\n".join(lines) + "\n")
        groups = {}
        for name, msg in SEGMENTS.items():
            groups[msg] = eng.create_group("admin", name, ids=[f"H{r['cust']}" for r in rows if r["msg"] == msg])
        # The control is the No E-Mail third, the host's own randomisation: each campaign names it as
        # its control list (control_group) and each message targets its e-mail group and the No E-Mail
        # group; the list's members among them are the message's control part.
        ext = {r["cust"]: f"H{r['cust']}" for r in rows}
        dense = {eng.find_customer("admin", e): c for c, e in ext.items()}
        setup_cpu = time.process_time() - t0
        out = []
        for label, g, cond in GOALS:
            now[0] = T0 - DAY
            cid = eng.create_campaign("author", label[:60], T0 - HOUR, END, control_group=groups[0],
                                      goal=_goal(g, cond) if g else "none")
            mids = {}
            for msg, name in ((1, "Mens"), (2, "Womens")):
                mids[msg] = eng.create_message("author", cid, name, include=[groups[msg], groups[0]], send_at=T0,
                                               creatives=[{"channel": "email", "subject": name,
                                                           "body": "New arrivals {{unsubscribe}}"}])
                eng.submit("author", mids[msg])
                eng.approve("approver", mids[msg])
            now[0] = T0
            sent.clear()
            t0 = time.process_time()
            eng.run_due("admin")
            keys = {}
            for k, e in sent.items():
                keys[(dense[e.customer], 1 if e.message == mids[1] else 2)] = k
            receipts = []
            for c, m, ch, st, t in touches:
                if st:
                    receipts.append({"key": keys[(c, m)], "status": [k for k, v in sqlref.STATUS.items() if v == st][0],
                                     "time": t})
            rep_r = eng.append_receipts(receipts)
            if label == GOALS[0][0]:
                rep_t = eng.append_transactions("mtd", [{"id": i, "customer": ext[c], "time": t,
                                                         "amount": Decimal(a) / 10000} for i, c, t, a in txns])
                assert rep_t["accepted"] == len(txns), rep_t
            assert rep_r["accepted"] == len(receipts), rep_r
            play_cpu = time.process_time() - t0
            # the engine's own touches: messages renumbered 1, 2 and customers back to row numbers
            con_e = sqlref.connect()
            sqlref.load(con_e, touches, txns, control, [1, 2], sent_at={1: T0, 2: T0})
            ref = sqlref.report(con_e, start=T0, end=END, goal=g, condition_sql=cond, costs={EMAIL: 1})
            now[0] = END + DAY
            t0 = time.process_time()
            with eng.campaign_report("admin", cid) as rep:
                cpu = time.process_time() - t0
                sqlref.check_report("engine/" + label, rep, ref, failures, table, cpu, msg_ids=mids)
                one = rep.export("json")
            with eng.campaign_report("admin", cid, threads=2) as rep:  # the same report on 2 parts
                if rep.export("json") != one:
                    failures.append(f"engine/{label}: the report on 2 parts differs from one part's")
            out.append((label, play_cpu))
        return setup_cpu, out


def main(argv):
    path = sqlref.dataset_path(argv, "ENGAGE_HILLSTROM_CSV", "Hillstrom")
    if not path:
        return 77
    rows = read(path)
    touches, txns, control = events(rows)
    con = sqlref.connect()
    sqlref.load(con, touches, txns, control, [1, 2], sent_at={1: T0, 2: T0})
    failures, table = [], []
    with engage.Engine() as eng:
        columns_path(eng, rows, touches, txns, control, con, failures, table)
    if os.environ.get("ENGAGE_DATASETS_COLUMNS_ONLY") != "1":
        setup_cpu, plays = engine_path(rows, touches, txns, control, con, failures, table)
        print(f"engine path: import and groups {setup_cpu:.2f} s CPU; " +
              "; ".join(f"{label}: send+receipts {c:.2f} s" for label, c in plays))
    print(f"{len(rows)} customers, {len(touches)} touches, {len(txns)} transactions, {len(control)} control")
    keys = ("contacted", "delivered", "opened", "clicked", "responders", "conversions", "hit_rate", "control_contacted",
            "control_responders", "control_hit_rate", "lift", "responder_sales", "spend_per_responder",
            "incremental_sales")
    return sqlref.print_table(table, failures, keys)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
