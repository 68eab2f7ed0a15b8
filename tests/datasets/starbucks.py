"""The Starbucks rewards-app offers (Udacity's capstone data) through the campaign report, against SQL.

Three files: portfolio.json (10 offers: type, difficulty, reward, duration in days, channels among
email, mobile, social, web), profile.json (17,000 members: hex id, age with 118 for unknown, gender,
income, became_member_on as YYYYMMDD) and transcript.json (offer received, offer viewed, offer
completed, transaction with an amount; time in hours since the test's start). The mapping, in the
open:
  - hour h is T0 + h hours (T0 below: the data has no calendar; the hours are kept exact);
  - an offer is a message; "offer received" is a send on each of the offer's channels (email ->
    email, mobile -> push, web -> inapp, social -> facebook), delivered at the same time;
  - "offer viewed" is an open on one channel: the app (push) when the offer went there, else the
    web (inapp), else email (the data does not say where a view happened);
  - a transaction is a transaction (id: its line number); "offer completed" is Starbucks's own
    attribution and is only counted for the record;
  - the control is the members who received no offer at all (not randomised: the data has no
    control group; the comparison is of figures, not of causal effects).

Two paths, each compared figure by figure with sqlref.report() on the same rows:
  columns  eng_measure_campaign: the ten offers as the messages (a member who received an offer
           twice, in two waves, is sent it once, at the first: the measure.h definition), goals over
           amount and over the members' attributes (income, gender, became_member_on), every model;
  engine   the members imported with their attributes, one message per (offer, wave) aimed at the
           members who received it then, sent by the executor on email, push and inapp (ad channels
           such as facebook need X-Engage: social is left out of this path), receipts and
           transactions appended, the members without an offer as each campaign's control list
           (control_group), eng_campaign_report for goals over amount and over a customer attribute.

Run: python3 tests/datasets/starbucks.py [dir with the three files]  (or ENGAGE_STARBUCKS_DIR; exit
77 when absent). A transcript cut in the middle of a line (a partial copy) is read up to its last
whole hour."""
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from decimal import Decimal

sys.path.insert(0, os.path.dirname(__file__))
import sqlref  # noqa: E402

import engage  # noqa: E402

T0 = 1533081600000  # 2018-08-01 00:00 UTC, after the last member joined (2018-07-26)
HOUR, DAY = engage.HOUR, engage.DAY
CHANNELS = {"email": "email", "mobile": "push", "web": "inapp", "social": "facebook"}
ENGINE_CHANNELS = ("email", "push", "inapp")
COSTS = {"email": 1, "push": 2, "inapp": 3}  # credits a send


def _lines(path):
    """JSON records of a file: one object a line (the usual form) or one JSON array. A last line
    cut short (a partial copy) is dropped and reported."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return json.loads(text), False
    out, cut = [], False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if i < len(lines) - 1:
                raise
            cut = True
    return out, cut


def read(path):
    portfolio, _ = _lines(os.path.join(path, "portfolio.json"))
    profile, _ = _lines(os.path.join(path, "profile.json"))
    transcript, cut = _lines(os.path.join(path, "transcript.json"))
    if cut:  # the last hour may be incomplete too: keep the whole hours only
        last = max(r["time"] for r in transcript)
        transcript = [r for r in transcript if r["time"] < last]
    return portfolio, profile, transcript, cut


def offer_of(value):
    return value.get("offer id", value.get("offer_id"))


def view_channel(offer):
    for c in ("mobile", "web", "email"):
        if c in offer["channels"]:
            return CHANNELS[c]
    return CHANNELS[offer["channels"][0]]


def model(portfolio, profile, transcript):
    """The data in sqlref's shapes: touches (messages = offers 1..10), transactions, control, and
    the per-(offer, wave) sends the engine path replays."""
    chid = engage.channels()
    msg = {o["id"]: i + 1 for i, o in enumerate(portfolio)}
    offers = {o["id"]: o for o in portfolio}
    cust = {p["id"]: i for i, p in enumerate(profile)}
    touches, txns, received, views, completed = [], [], defaultdict(list), [], 0
    for line, r in enumerate(transcript):
        c, t, v = cust[r["person"]], T0 + r["time"] * HOUR, r["value"]
        if r["event"] == "offer received":
            o = offer_of(v)
            received[(o, r["time"])].append(c)
            for ch in offers[o]["channels"]:
                touches += [(c, msg[o], chid[CHANNELS[ch]], 0, t), (c, msg[o], chid[CHANNELS[ch]], 1, t)]
        elif r["event"] == "offer viewed":
            o = offer_of(v)
            touches.append((c, msg[o], chid[view_channel(offers[o])], 2, t))
            views.append((c, o, r["time"]))
        elif r["event"] == "transaction":
            txns.append((f"S{line + 1}", c, t, int(Decimal(str(v["amount"])) * 10000)))
        elif r["event"] == "offer completed":
            completed += 1
    someone = {c for (_, _), cs in received.items() for c in cs}
    control = sorted(set(range(len(profile))) - someone)
    return msg, touches, txns, control, received, views, completed


def attributes(p):
    """A member's attributes as the import reads them (empty: unknown; age 118 is the data's unknown)."""
    d = p["became_member_on"]
    d = str(d)
    return {"age": "" if p["age"] == 118 else str(p["age"]), "gender": p["gender"] or "",
            "income": "" if p["income"] is None else str(int(p["income"])),
            "became_member_on": f"{d[:4]}-{d[4:6]}-{d[6:]}"}


def days(d):
    """YYYY-MM-DD as days since 1970 (a date column's value)."""
    return (dt.date.fromisoformat(d) - dt.date(1970, 1, 1)).days


# (label, goal, library condition, SQL condition over txns and the joined member columns)
GOALS = [
    ("no goal (hit rate)", None, None, "1"),
    ("amount >= 10, 7 d from delivered, last touch", {"window_days": 7, "start_on": "delivered",
                                                       "attribution": "last_touch"}, "amount >= 10",
     "amount >= 100000"),
    ("any amount, 3 d from opened, linear", {"window_days": 3, "start_on": "opened", "attribution": "linear"},
     "amount > 0", "amount > 0"),
    ("amount >= 5 and income >= 75000, 10 d from sent, position", {"window_days": 10, "start_on": "sent",
                                                                   "attribution": "position"},
     "amount >= 5 and income >= 75000", "amount >= 50000 and income >= 75000"),
    ('gender == "F" and became_member_on >= 2017-01-01, 5 d from delivered, time decay',
     {"window_days": 5, "start_on": "delivered", "attribution": "time_decay"},
     'gender == "F" and became_member_on >= date("2017-01-01")',
     f"gender = 'F' and became_member_on >= {days('2017-01-01')}"),
    ("amount >= 20, 1 d from sent, first touch", {"window_days": 1, "start_on": "sent",
                                                  "attribution": "first_touch"}, "amount >= 20", "amount >= 200000"),
]
GOALS = [g if len(g) == 4 else (g[0], g[1], g[2], g[2]) for g in GOALS]
FIELDS = [("amount", "decimal"), ("income", "int"), ("gender", "string"), ("became_member_on", "date")]


def member_columns(profile):
    """Per dense id: (income, gender, became_member_on days), None where unknown."""
    out = []
    for p in profile:
        a = attributes(p)
        out.append((int(a["income"]) if a["income"] else None, a["gender"] or None, days(a["became_member_on"])))
    return out


def columns_path(eng, profile, msg, touches, txns, control, start, end, failures, table):
    mem = member_columns(profile)
    tx = [t + mem[t[1]] for t in txns]
    con = sqlref.connect()
    sqlref.load(con, touches, tx, control, sorted(msg.values()),
                txn_extra=("income int", "gender text", "became_member_on int"))
    tch = [{"customer": c, "message": m, "channel": ch, "status": st, "time": t} for c, m, ch, st, t in touches]
    ctx = [{"customer": c, "time": t, "amount": Decimal(a) / 10000, "income": inc, "gender": g, "became_member_on":
            None if b is None else dt.date(1970, 1, 1) + dt.timedelta(days=b)} for _, c, t, a, inc, g, b in tx]
    for label, g, cond, sql in GOALS:
        ref = sqlref.report(con, start=start, end=end, goal=g, condition_sql=sql)
        t0 = time.process_time()
        with eng.measure_campaign(tch, ctx, messages=sorted(msg.values()), n_customers=len(profile), start=start,
                                  end=end, goal=dict(g, event="transaction", condition=cond) if g else None,
                                  control=control, fields=FIELDS if g else ()) as rep:
            cpu = time.process_time() - t0
            sqlref.check_report("columns/" + label, rep, ref, failures, table, cpu,
                                tol=1 if g and g["attribution"] == "time_decay" else 0)


ORG_KEYS = ("campaigns", "contacted", "sent", "delivered", "responders", "responder_sales", "incremental_sales",
            "credits_spent")


def org_path(eng, profile, msg, touches, txns, control, failures):
    """The org dashboard (eng_measure_org) with each offer a campaign of its own, at a period
    boundary on the sends (now = T0 + 7 days: the sends at T0 are in; 1 ms later they are out, and
    only the views and purchases after them are left), against the same sums over sqlref.report()
    of each offer on the period's rows. Returns the rows printed."""
    chid = engage.channels()
    costs = {"email": 1, "push": 2, "inapp": 3, "facebook": 5}
    ccost = {chid[k]: v for k, v in costs.items()}
    tch = [{"customer": c, "message": m, "channel": ch, "status": st, "time": t} for c, m, ch, st, t in touches]
    ctx = [{"customer": c, "time": t, "amount": Decimal(a) / 10000} for _, c, t, a in txns]
    out = []
    for goal in (None, {"window_days": 3, "start_on": "opened", "attribution": "linear"}):
        cond = "amount >= 5"
        specs = [{"messages": [m], "n_customers": len(profile), "start": T0, "end": T0 + 30 * DAY, "control": control,
                  "channel_costs": costs, "goal": dict(goal, event="transaction", condition=cond) if goal else None}
                 for m in sorted(msg.values())]
        for now in (T0 + 7 * DAY, T0 + 7 * DAY + 1):
            frm = now - 7 * DAY
            ours = eng.measure_org(tch, ctx, specs, now, "7_days", fields=[("amount", "decimal")] if goal else ())
            con = sqlref.connect()
            sqlref.load(con, [x for x in touches if frm <= x[4] <= now], [x for x in txns if frm <= x[2] <= now],
                        control, sorted(msg.values()))
            ref = dict.fromkeys(ORG_KEYS, 0)
            ref["incremental_sales"] = None
            for m in sorted(msg.values()):
                con.execute("delete from msgs")
                con.execute("insert into msgs values(?, 0, (select min(t) from touches where st = 0 and msg = ?))",
                            (m, m))
                f = sqlref.report(con, start=T0, end=min(T0 + 30 * DAY, now), goal=goal,
                                  condition_sql="amount >= 50000", costs=ccost)["total"]
                ref["campaigns"] += f["sent"] > 0
                for k in ORG_KEYS[1:6]:
                    ref[k] += f[k]
                ref["credits_spent"] += f["credits_spent"]
                if f["incremental_sales"] is not None:
                    ref["incremental_sales"] = (ref["incremental_sales"] or 0) + f["incremental_sales"]
            label = f"org dashboard, {'no goal' if not goal else 'amount >= 5, 3 d from opened'}, now T0 + 7 d" + \
                (" + 1 ms" if now % DAY else "")
            ours_cmp = dict(ours)
            for k in ("responder_sales", "incremental_sales"):
                if ours_cmp[k] is not None:
                    ours_cmp[k] = int(ours_cmp[k] * 100)
            bad = [f"{label}: {k} ours {ours_cmp[k]} sql {ref[k]}" for k in ORG_KEYS if ours_cmp[k] != ref[k]]
            hr = 100.0 * ref["responders"] / ref["contacted"] if ref["contacted"] else 0.0
            if abs(ours["hit_rate"] - hr) > 1e-9:
                bad.append(f"{label}: hit_rate ours {ours['hit_rate']} sql {hr}")
            failures.extend(bad)
            out.append((label, ours_cmp, ref, not bad))
    return out


def engine_path(portfolio, profile, received, views, txns, control, start, end, failures, table):
    """Every (offer, wave) a message sent by the executor; receipts and transactions appended."""
    now = [T0 - DAY]
    sent = {}

    def transport(envs):
        for e in envs:
            sent[e.key] = e
        return ["accepted"] * len(envs)
    offers = {o["id"]: o for o in portfolio}
    chid = engage.channels()
    with engage.Engine(transport=transport, clock=lambda: now[0]) as eng:
        eng.create_org("sbux", "admin", conversion_goals=True, channel_costs=COSTS)
        eng.put_actor("admin", "author", ["author"])
        eng.put_actor("admin", "approver", ["approver"])
        eng.setup_unsubscribe("admin", "https://rewards.example/u", b"sixteen-bytes-secret")
        for name, typ in (("age", "int"), ("gender", "string"), ("income", "int"), ("became_member_on", "date")):
            eng.add_column("admin", name, typ)
        t0 = time.process_time()
        head = "id,age,gender,income,became_member_on,contact.email,consent.email,contact.push,consent.push," \
               "contact.inapp,consent.inapp"
        lines = [head]
        for p in profile:
            a = attributes(p)
            lines.append(f"{p['id']},{a['age']},{a['gender']},{a['income']},{a['became_member_on']},"
                         f"{p['id']}@example.com,yes,push-{p['id']},yes,app-{p['id']},yes")
        # half the purchases before the members exist (kept, joined when they arrive), sealed by a
        # compaction; the other half after the import; later every 5th again (duplicates)
        tx = [{"id": i, "customer": profile[c]["id"], "time": t, "amount": Decimal(a) / 10000} for i, c, t, a in txns]
        rep_t = eng.append_transactions("sbux", tx[:len(tx) // 2])
        assert rep_t["unknown_customers"] == len(tx) // 2, rep_t
        eng.compact_events()
        eng.import_csv("admin", "\n".join(lines) + "\n")
        rep_t = eng.append_transactions("sbux", tx[len(tx) // 2:])
        assert rep_t["accepted"] == len(tx) - len(tx) // 2 and not rep_t["unknown_customers"], rep_t
        dense = {p["id"]: eng.find_customer("admin", p["id"]) for p in profile}
        back = {d: i for i, d in enumerate(dense[p["id"]] for p in profile)}
        waves = sorted(received)  # (offer, hour)
        groups = {}
        for o, h in waves:
            groups[(o, h)] = eng.create_group("admin", f"{o[:8]} at {h}", ids=[profile[c]["id"] for c in
                                                                             received[(o, h)]])
        nobody = eng.create_group("admin", "no offer", ids=[profile[c]["id"] for c in control])
        setup_cpu = time.process_time() - t0
        out = []
        for label, g, cond, sql in GOALS[:4]:
            now[0] = T0 - DAY
            cid = eng.create_campaign("author", label[:60], start - HOUR, end, control_group=nobody,
                                      goal=dict(g, event="transaction", condition=cond) if g else "none")
            mids = {}
            for o, h in waves:
                creatives = [{"channel": ch, "subject": offers[o]["offer_type"], "body": "Your offer {{unsubscribe}}"}
                             for ch in ENGINE_CHANNELS if ch in {CHANNELS[x] for x in offers[o]["channels"]}]
                mids[(o, h)] = eng.create_message("author", cid, f"{offers[o]['offer_type']} {o[:6]} h{h}",
                                                  include=[groups[(o, h)], nobody], send_at=T0 + h * HOUR,
                                                  creatives=creatives)
                eng.submit("author", mids[(o, h)])
                eng.approve("approver", mids[(o, h)])
            keys = {}
            t0 = time.process_time()
            for h in sorted({h for _, h in waves}):
                now[0] = T0 + h * HOUR
                sent.clear()
                eng.run_due("admin")
                for k, e in sent.items():
                    keys[(back[e.customer], e.message, chid[e.channel])] = k
            # receipts: delivered on every channel sent; the view opens the latest wave's send of that offer
            receipts, touches = [], []
            msg_of = {v: k for k, v in mids.items()}
            for (c, m, ch), k in keys.items():
                o, h = msg_of[m]
                t = T0 + h * HOUR
                receipts.append({"key": k, "status": "delivered", "time": t})
                touches += [(c, m, ch, 0, t), (c, m, ch, 1, t)]
            latest = defaultdict(list)
            for (o, h), cs in received.items():
                for c in cs:
                    latest[(c, o)].append(h)
            for c, o, vh in views:
                hs = [h for h in latest[(c, o)] if h <= vh]
                if not hs:
                    continue  # a view before any receipt of that offer: nothing to open
                m = mids[(o, max(hs))]
                ch = chid[view_channel(offers[o])]
                if ch not in {chid[x] for x in ENGINE_CHANNELS} or (c, m, ch) not in keys:
                    continue
                receipts.append({"key": keys[(c, m, ch)], "status": "opened", "time": T0 + vh * HOUR})
                touches.append((c, m, ch, 2, T0 + vh * HOUR))
            rr = eng.append_receipts(receipts[:len(receipts) // 2])  # half sealed, half in the open tail
            eng.compact_events()
            rr2 = eng.append_receipts(receipts[len(receipts) // 2:])
            assert rr["accepted"] + rr2["accepted"] == len(receipts), (rr, rr2)
            # a provider's retry and a host's re-import: every event again, all duplicates, nothing changes
            rr3 = eng.append_receipts(receipts[::7])
            assert rr3["duplicates"] == len(receipts[::7]) and not rr3["accepted"], rr3
            if label == GOALS[0][0]:
                rt = eng.append_transactions("sbux", tx[::5])
                assert rt["duplicates"] == len(tx[::5]) and not rt["accepted"], rt
            play_cpu = time.process_time() - t0
            con = sqlref.connect()
            mem = member_columns(profile)
            order = [mids[w] for w in waves]
            sqlref.load(con, touches, [t + mem[t[1]] for t in txns], control, order,
                        sent_at={mids[w]: T0 + w[1] * HOUR for w in waves},
                        txn_extra=("income int", "gender text", "became_member_on int"))
            ref = sqlref.report(con, start=start, end=end, goal=g, condition_sql=sql,
                                costs={chid[k]: v for k, v in COSTS.items()})
            now[0] = end + DAY
            t0 = time.process_time()
            with eng.campaign_report("admin", cid) as rep:
                cpu = time.process_time() - t0
                sqlref.check_report("engine/" + label, rep, ref, failures, table, cpu,
                                    tol=1 if g and g["attribution"] == "time_decay" else 0)
                one = rep.export("json")
            with eng.campaign_report("admin", cid, threads=2) as rep:
                if rep.export("json") != one:
                    failures.append(f"engine/{label}: the report on 2 parts differs from one part's")
            out.append((label, play_cpu, rr))
        return setup_cpu, out, len(waves)


def main(argv):
    path = argv[1] if len(argv) > 1 else os.environ.get("ENGAGE_STARBUCKS_DIR", "")
    if not path or not os.path.exists(os.path.join(path, "transcript.json")):
        print("SKIP: the Starbucks files are not here (give the directory with portfolio.json, profile.json and "
              "transcript.json as the argument or in ENGAGE_STARBUCKS_DIR; tests/datasets/README.md says where "
              "to get them)")
        return 77
    portfolio, profile, transcript, cut = read(path)
    msg, touches, txns, control, received, views, completed = model(portfolio, profile, transcript)
    start = T0
    end = T0 + (max(r["time"] for r in transcript) + 1) * HOUR
    failures, table = [], []
    with engage.Engine() as eng:
        columns_path(eng, profile, msg, touches, txns, control, start, end, failures, table)
        org = org_path(eng, profile, msg, touches, txns, control, failures)
    if os.environ.get("ENGAGE_DATASETS_COLUMNS_ONLY") != "1":
        setup_cpu, plays, nw = engine_path(portfolio, profile, received, views, txns, control, start, end,
                                           failures, table)
        print(f"engine path: {nw} messages (offer x wave); import and groups {setup_cpu:.2f} s CPU; " +
              "; ".join(f"{label}: send+receipts {c:.2f} s" for label, c, _ in plays))
    print(f"{len(profile)} members, {len(transcript)} events{' (a partial copy: whole hours kept)' if cut else ''} "
          f"up to hour {max(r['time'] for r in transcript)}, {len(touches)} touches, {len(txns)} transactions, "
          f"{len(control)} control, {completed} offers completed (Starbucks's attribution)")
    keys = ("contacted", "sent", "delivered", "opened", "responders", "conversions", "hit_rate", "control_contacted",
            "control_responders", "lift", "responder_sales", "spend_per_responder", "incremental_sales")
    for label, ours, ref, ok in org:
        print(f"[columns] {label}: {'equal' if ok else 'DIFFERENT'}: " +
              ", ".join(f"{k} {ours[k]}" + ("" if ours[k] == ref[k] else f" (SQL {ref[k]})") for k in ORG_KEYS))
    return sqlref.print_table(table, failures, keys)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
