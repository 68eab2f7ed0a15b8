"""UCI Online Retail (a UK online gift shop's invoices) through the campaign report, against SQL.

The file's lines are invoice lines. The host work done here, in the open:
  - a line without a customer id cannot be attributed to anyone: dropped (counted);
  - one transaction per invoice: amount = sum(quantity x price), exact (Decimal), items = the
    stock codes, country = the invoice's country, time = its earliest line's time;
  - cancellations (invoice "C...", negative quantities) are transactions with a negative amount;
  - InvoiceDate is a naive local time of the shop (UK): converted explicitly from Europe/London to
    UTC with zoneinfo and written with its offset, since the import refuses to guess a zone.
The transactions go in through the CSV import (eng_txn_import_csv, custom field `country`); the
customers through the customer import. A seeded campaign is played over them: three messages
(email, sms, email) to every customer with a 20 % control split made by the engine, receipts drawn
from a seeded generator (delivered, failed, opened, clicked, unsubscribed).

Compared with sqlref.report() over the same rows:
  engine   eng_campaign_report from the stores: no goal; goals over `amount` with every attribution
           model; over amount and the custom field `country`; over `items` (any(x in items, ...));
  columns  eng_measure_campaign over the engine's touches and the transactions, with goals over
           amount and country (`amount > 100 and country in (...)`), every model, 30 and 2 days.

Run: python3 tests/datasets/online_retail.py [file.csv]  (or ENGAGE_ONLINE_RETAIL_CSV; exit 77
when absent). Either header form: InvoiceNo/UnitPrice/CustomerID or Invoice/Price/Customer ID."""
import csv
import datetime as dt
import io
import os
import random
import sys
import time
import zoneinfo
from collections import OrderedDict
from decimal import Decimal

sys.path.insert(0, os.path.dirname(__file__))
import sqlref  # noqa: E402

import engage  # noqa: E402

LONDON = zoneinfo.ZoneInfo("Europe/London")
DAY, HOUR, MINUTE = engage.DAY, engage.HOUR, engage.MINUTE
FORMATS = ("%m/%d/%y %H:%M", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M")
COUNTRIES = ("France", "Germany", "EIRE", "Netherlands", "Norway")


def parse_time(text):
    for f in FORMATS:
        try:
            local = dt.datetime.strptime(text.strip(), f)
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"InvoiceDate {text!r}: no known format")
    return local.replace(tzinfo=LONDON)  # the shop's local time, made explicit


def invoices(path):
    """(transactions in file order, lines dropped without a customer)."""
    with open(path, newline="", encoding="latin-1") as f:
        rows = list(csv.DictReader(f))
    h = rows[0].keys()
    inv_k = "Invoice" if "Invoice" in h else "InvoiceNo"
    price_k = "Price" if "Price" in h else "UnitPrice"
    cust_k = "Customer ID" if "Customer ID" in h else "CustomerID"
    out, dropped = OrderedDict(), 0
    for r in rows:
        cust = (r[cust_k] or "").strip()
        if not cust:
            dropped += 1
            continue
        cust = str(int(Decimal(cust)))  # "17850.0" in some copies
        t = parse_time(r["InvoiceDate"])
        x = out.setdefault(r[inv_k], {"id": r[inv_k], "customer": cust, "time": t, "amount": Decimal(0),
                                      "items": [], "country": r["Country"]})
        x["time"] = min(x["time"], t)
        x["amount"] += Decimal(r["Quantity"]) * Decimal(r[price_k])
        x["items"].append(r["StockCode"].strip())
    return list(out.values()), dropped


def txn_csv(txns):
    """The transactions as the import reads them: times with their UTC offset, items joined by |."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "customer", "time", "amount", "items", "country"])
    for x in txns:
        w.writerow([x["id"], x["customer"], x["time"].isoformat(sep=" "), str(x["amount"]), "|".join(x["items"]),
                    x["country"]])
    return buf.getvalue()


def ms(t):
    return int(t.timestamp() * 1000)


# From the 4th day of the file, so that purchases before a customer's first message do not count.
PLAN = [("Catalogue", "email", 3 * DAY + 6 * HOUR), ("Free delivery", "sms", 5 * DAY + 9 * HOUR),
        ("Last orders", "email", 8 * DAY + 7 * HOUR)]


def run_campaign(eng, name, goal, day0, start, end, clock, sends, seed):
    """A campaign of PLAN's three messages to everyone (20 % control split by the engine), sent by
    the executor and answered by seeded receipts. Returns (id, message ids, touches, control)."""
    rnd = random.Random(seed)
    clock[0] = day0 - DAY
    cid = eng.create_campaign("author", name, start, end, control_percent=20, goal=goal or "none")
    mids = []
    for title, ch, at in PLAN:
        cr = {"channel": ch, "body": "Gifts {{unsubscribe}}" if ch == "email" else "Gifts {{optout}}"}
        if ch == "email":
            cr["subject"] = title
        m = eng.create_message("author", cid, title, include=["everyone"], send_at=day0 + at, creatives=[cr])
        eng.submit("author", m)
        eng.approve("approver", m)
        mids.append(m)
    touches, receipts = [], []
    for (title, ch, at), m in zip(PLAN, mids):
        clock[0] = day0 + at
        sends.clear()
        eng.run_due("admin")
        for k, e in sorted(sends.items(), key=lambda kv: kv[1].customer):
            c, t = e.customer, clock[0]
            touches.append((c, m, e.channel, "sent", t))
            if rnd.random() < 0.93:
                td = t + rnd.randrange(1, 10 * MINUTE)
                rs = [("delivered", td)]
                if rnd.random() < 0.45:
                    to = td + rnd.randrange(1, 3 * DAY)
                    rs.append(("opened", to))
                    if rnd.random() < 0.35:
                        rs.append(("clicked", to + rnd.randrange(1, 2 * HOUR)))
                    if rnd.random() < 0.02:
                        rs.append(("unsubscribed", to + rnd.randrange(1, HOUR)))
            else:
                rs = [("failed" if ch == "sms" else "bounced", t + rnd.randrange(1, 5 * MINUTE))]
            for st, tt in rs:
                receipts.append({"key": k, "status": st, "time": tt})
                touches.append((c, m, e.channel, st, tt))
    rr = eng.append_receipts(receipts)
    assert rr["accepted"] == len(receipts), rr
    control = set()
    for m in mids:
        with eng.message_audience("admin", m) as a:
            control |= set(a.ids("control"))
    chid = {n: i for i, n in enumerate(engage.channels())}
    return cid, mids, [(c, m, chid[ch], sqlref.STATUS[st], t) for c, m, ch, st, t in touches], sorted(control)


def main(argv):
    path = sqlref.dataset_path(argv, "ENGAGE_ONLINE_RETAIL_CSV", "Online Retail")
    if not path:
        return 77
    t0 = time.process_time()
    txns, dropped = invoices(path)
    host_cpu = time.process_time() - t0
    failures, table = [], []
    sends = {}
    clock = [0]

    def transport(envs):
        for e in envs:
            sends[e.key] = e
        return ["accepted"] * len(envs)
    with engage.Engine(transport=transport, clock=lambda: clock[0]) as eng:
        eng.create_org("shop", "admin", conversion_goals=True, channel_costs={"email": 1, "sms": 5})
        eng.put_actor("admin", "author", ["author"])
        eng.put_actor("admin", "approver", ["approver"])
        eng.setup_unsubscribe("admin", "https://shop.example/u", b"sixteen-bytes-secret")
        eng.add_transaction_field("shop", "country", "string")
        custs = sorted({x["customer"] for x in txns}, key=int)
        lines = ["id,contact.email,consent.email,contact.sms,consent.sms"]
        lines += [f"{c},c{c}@example.co.uk,yes,+4479{int(c):08d},yes" for c in custs]
        eng.import_csv("admin", "\n".join(lines) + "\n")
        eng.create_group("admin", "everyone", ids=custs)
        # in two halves with a compaction between: sealed segments and the open tail both read
        half = len(txns) // 2
        t0 = time.process_time()
        imp = eng.import_transactions_csv("shop", txn_csv(txns[:half]))
        eng.compact_events()
        imp2 = eng.import_transactions_csv("shop", txn_csv(txns[half:]))
        import_cpu = time.process_time() - t0
        assert imp["accepted"] + imp2["accepted"] == len(txns), (imp, imp2)
        first = min(x["time"] for x in txns).astimezone(dt.timezone.utc)
        last = max(x["time"] for x in txns)
        day0 = ms(first.replace(hour=0, minute=0, second=0, microsecond=0))
        start, end = day0, ms(last) + DAY
        dense = {c: eng.find_customer("admin", c) for c in custs}
        n_customers = eng.customer_count("admin")
        chid = {name: i for i, name in enumerate(engage.channels())}
        costs = {chid["email"]: 1, chid["sms"]: 5}
        tx = [(x["id"], dense[x["customer"]], ms(x["time"]), int(x["amount"] * 10000), x["country"]) for x in txns]
        # 1. the engine path: a campaign per goal (a goal is fixed once a message is approved), each
        #    played with the same seed; goals over amount, the custom field country and items
        clist = ", ".join(f'"{c}"' for c in COUNTRIES)
        sql_list = ", ".join(f"'{c}'" for c in COUNTRIES)
        conds = {"amount > 100": "amount > 1000000",
                 f"amount > 100 and country in ({clist})": f"amount > 1000000 and country in ({sql_list})",
                 'any(x in items, x starts with "851") or amount > 500':
                 "exists (select 1 from items i where i.id = txns.id and substr(i.sku, 1, 3) = '851') "
                 "or amount > 5000000"}
        cl = list(conds)
        goals = [(None, cl[0])] + [({"window_days": 30, "start_on": "delivered", "attribution": m}, cl[0])
                                   for m in sqlref.MODELS]
        goals += [({"window_days": 2, "start_on": "opened", "attribution": "position"}, cl[0]),
                  ({"window_days": 30, "start_on": "delivered", "attribution": "last_touch"}, cl[1]),
                  ({"window_days": 5, "start_on": "sent", "attribution": "linear"}, cl[2])]
        items = [(x["id"], sku) for x in txns for sku in x["items"]]
        first_run = None
        for i, (g, cond) in enumerate(goals):
            lib_goal = dict(g, event="transaction", condition=cond) if g else None
            cid, mids, tch, control = run_campaign(eng, f"Christmas {i}", lib_goal, day0, start, end, clock, sends, 7)
            first_run = first_run or (mids, tch, control)
            con = sqlref.connect()
            sqlref.load(con, tch, tx, control, mids, txn_extra=("country",), items=items)
            ref = sqlref.report(con, start=start, end=end, goal=g, condition_sql=conds[cond], costs=costs)
            clock[0] = end + DAY
            t0 = time.process_time()
            with eng.campaign_report("admin", cid) as rep:
                cpu = time.process_time() - t0
                label = "no goal (hit rate)" if not g else f"{g['attribution']}, {g['window_days']} d from {g['start_on']}, {cond}"
                sqlref.check_report("engine/" + label, rep, ref, failures, table, cpu,
                             tol=1 if g and g["attribution"] == "time_decay" else 0)
        mids, tch, control = first_run
        con = sqlref.connect()
        sqlref.load(con, tch, tx, control, mids, txn_extra=("country",))
        # 2. the columns path with goals over amount and country
        ctouch = [{"customer": c, "message": m, "channel": ch, "status": st, "time": t} for c, m, ch, st, t in tch]
        ctx = [{"customer": c, "time": t, "amount": Decimal(a) / 10000, "country": co} for _, c, t, a, co in tx]
        for model in sqlref.MODELS:
            for days, start_on in ((30, "delivered"), (2, "opened"), (30, "clicked"), (1, "sent")):
                g = {"window_days": days, "start_on": start_on, "attribution": model}
                cond = f"amount > 100 and country in ({clist})"
                ref = sqlref.report(con, start=start, end=end, goal=g, costs=costs,
                                    condition_sql=f"amount > 1000000 and country in ({sql_list})")
                t0 = time.process_time()
                with eng.measure_campaign(ctouch, ctx, messages=mids, n_customers=n_customers, start=start, end=end,
                                          goal=dict(g, event="transaction", condition=cond), control=control,
                                          channel_costs={"email": 1, "sms": 5},
                                          fields=[("amount", "decimal"), ("country", "string")]) as rep:
                    cpu = time.process_time() - t0
                    label = f"{model}, {days} d from {start_on}, amount > 100 and country in 5"
                    sqlref.check_report("columns/" + label, rep, ref, failures, table, cpu,
                                 tol=1 if model == "time_decay" else 0)
    print(f"{len(txns)} invoices with a customer ({dropped} lines without one dropped), {len(custs)} customers, "
          f"{len(control)} control, {len(tch)} touches; host parsing {host_cpu:.2f} s CPU, "
          f"CSV import {import_cpu * 1000:.0f} ms CPU")
    keys = ("contacted", "sent", "delivered", "not_delivered", "opened", "clicked", "unsubscribed", "responders",
            "conversions", "hit_rate", "control_contacted", "control_responders", "lift", "responder_sales",
            "spend_per_responder", "incremental_sales", "credits_spent")
    return sqlref.print_table(table, failures, keys)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
