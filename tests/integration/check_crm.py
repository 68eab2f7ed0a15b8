"""examples/crm-server on loopback, driven by curl: a campaign from customers to report through
the JSON endpoints, bad bodies answered with a 4xx naming the field, library errors mapped to
HTTP statuses, a bounded concurrent load (8 clients, mixed reads and writes; its figures are
printed), the report checked against a count written here, and a restart on the same file store.

usage: check_crm.py <crm-server>"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

SERVER = sys.argv[1]
T0 = 1767225600000
DAY = 86400000
N = 2000
CLIENTS, ROUNDS = 8, 24


def curl(port, method, path, body=None, actor="admin", csv=False):
    """One request through curl: (status, json, seconds)."""
    cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code} %{time_total}", "-X", method,
           f"http://127.0.0.1:{port}{path}"]
    if actor:
        cmd += ["-H", f"X-Actor: {actor}"]
    if body is not None:
        cmd += ["-H", "Content-Type: " + ("text/csv" if csv else "application/json"),
                "--data-binary", body if csv else json.dumps(body) if not isinstance(body, str) else body]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    text, _, tail = out.rpartition("\n")
    status, secs = tail.split()
    return int(status), json.loads(text) if text else None, float(secs)


def start(store):
    p = subprocess.Popen([SERVER, "--port", "0", "--store", store, "--threads", "4"], stdout=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    assert line.startswith("listening on 127.0.0.1:"), line
    return p, int(line.split(":")[1].split()[0])


def stop(p):
    p.terminate()
    assert p.wait(timeout=30) == 0, "crm-server did not stop cleanly"


def expect(got, status, what):
    if got[0] != status:
        raise SystemExit(f"FAIL: {what}: HTTP {got[0]} {got[1]}, expected {status}")
    return got[1]


def main():
    d = tempfile.mkdtemp()
    store = os.path.join(d, "crm.db")
    p, port = start(store)
    try:
        r = lambda *a, **k: curl(port, *a, **k)  # noqa: E731
        expect(r("POST", "/clock", {"now": T0}, actor=None), 200, "clock")
        expect(r("POST", "/orgs", {"org": "acme", "admin": "admin"}, actor=None), 201, "org")
        expect(r("POST", "/actors", {"id": "asha", "roles": ["author"]}), 201, "author")
        expect(r("POST", "/actors", {"id": "ravi", "roles": ["approver"]}), 201, "approver")
        csv = "id,contact.sms,consent.sms\n" + "".join(f"C{i},+9198{i:08d},yes\n" for i in range(N))
        assert expect(r("POST", "/customers", csv, csv=True), 200, "customers")["inserted"] == N
        assert expect(r("POST", "/groups", {"name": "everyone", "filter": "reachable.sms"}), 201, "group")["size"] == N

        # Bad bodies: a 4xx naming the field.
        for body, field in (({"name": 5, "start": T0, "end": T0 + DAY}, "name"),
                            ({"name": "x", "start": T0}, "end"),
                            ('{"name": "x", ', "body:1:"),
                            ("[1, 2]", "body")):
            e = expect(r("POST", "/campaigns", body, actor="asha"), 400, f"bad body {body!r}")["error"]
            assert e["field"].startswith(field), (body, e)
        # Library errors mapped: validation 422 with its field, denied 403, unknown 404, no actor 401.
        e = expect(r("POST", "/campaigns", {"name": "x", "start": T0 + 2 * DAY, "end": T0}, actor="asha"), 422,
                   "end before start")["error"]
        assert (e["code"], e["field"]) == ("ENG_EVALIDATION", "campaign.end"), e
        expect(r("POST", "/actors", {"id": "eve", "roles": ["admin"]}, actor="asha"), 403, "author adds an admin")
        expect(r("GET", "/messages/999"), 404, "unknown message")
        expect(r("GET", "/messages/1", actor=None), 401, "no actor")

        cid = expect(r("POST", "/campaigns", {"name": "Spring", "start": T0 + DAY, "end": T0 + 30 * DAY,
                                              "control_percent": 10}, actor="asha"), 201, "campaign")["id"]
        msg = {"title": "Kick-off", "include": ["everyone"], "send_at": T0 + 2 * DAY,
               "creatives": [{"channel": "sms", "body": "20% off!"}]}
        e = expect(r("POST", f"/campaigns/{cid}/messages", dict(msg, creatives=[{"channel": "fax", "body": "x"}]),
                     actor="asha"), 400, "bad channel")["error"]
        assert e["field"] == "creatives[0].channel", e
        bad = expect(r("POST", f"/campaigns/{cid}/messages", msg, actor="asha"), 201, "message")["id"]
        e = expect(r("POST", f"/messages/{bad}/submit", actor="asha"), 422, "submit without opt-out")["error"]
        assert "message.creative[sms].body" in [x["field"] for x in e["problems"]], e
        msg["creatives"][0]["body"] = "20% off! {{optout}}"
        mid = expect(r("POST", f"/campaigns/{cid}/messages", msg, actor="asha"), 201, "message")["id"]
        expect(r("POST", f"/messages/{mid}/submit", actor="asha"), 200, "submit")
        h = expect(r("GET", f"/messages/{mid}", actor="ravi"), 200, "get")["content_hash"]
        expect(r("POST", f"/messages/{mid}/approve", {"content_hash": h}, actor="asha"), 403, "author approves")
        expect(r("POST", f"/messages/{mid}/approve", {"content_hash": h, "comment": "ok"}, actor="ravi"), 200,
               "approve")
        expect(r("POST", f"/messages/{mid}/approve", {"content_hash": h}, actor="ravi"), 409, "approve twice")

        # Run what is due from two clients at once: each customer is sent once.
        with ThreadPoolExecutor(2) as ex:
            runs = list(ex.map(lambda _: r("POST", "/run", {"now": T0 + 2 * DAY, "message": mid}), range(2)))
        assert all(x[0] == 200 for x in runs), runs
        sends = expect(r("GET", "/outbox", actor=None), 200, "outbox")["sends"]
        keys = [s["key"] for s in sends]
        assert len(keys) == len(set(keys)) and N * 0.85 < len(keys) < N * 0.95, len(keys)
        test = {s["customer"] for s in sends}

        # Bounded concurrent load: each client posts its share of the receipts and of the
        # purchases (every third customer spends 150.00 a day after the send) and reads the
        # report and the message in between.
        buyers = [i for i in range(N) if i % 3 == 0]

        def client(k):
            lat, bad = [], []
            my_keys = keys[k::CLIENTS]
            my_buyers = buyers[k::CLIENTS]
            for j in range(ROUNDS):
                if j % 4 == 0:
                    chunk = my_keys[j // 4::ROUNDS // 4]
                    req = ("POST", "/receipts", {"receipts": [{"key": x, "status": "delivered",
                                                               "time": T0 + 2 * DAY + 60000} for x in chunk]})
                elif j % 4 == 1:
                    chunk = my_buyers[j // 4::ROUNDS // 4]
                    req = ("POST", "/transactions", {"org": "acme", "transactions": [
                        {"id": f"T{i}", "customer": f"C{i}", "time": T0 + 3 * DAY, "amount": 15000}
                        for i in chunk]})
                elif j % 4 == 2:
                    req = ("GET", f"/campaigns/{cid}/report", None)
                else:
                    req = ("GET", f"/messages/{mid}", None)
                status, body, secs = r(*req)
                lat.append((secs, req[0] + " " + req[1].split("/")[1]))
                if status != 200:
                    bad.append((req[:2], status, body))
            return lat, bad

        t = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as ex:
            results = list(ex.map(client, range(CLIENTS)))
        wall = time.monotonic() - t
        kinds = {}
        for res in results:
            for secs, kind in res[0]:
                kinds.setdefault(kind, []).append(secs)
        lat = sorted(x for res in results for x, _ in res[0])
        errors = [b for res in results for b in res[1]]
        assert not errors, errors[:3]
        total = len(lat)
        print(f"load: {CLIENTS} concurrent curl clients, {total} requests in {wall:.2f} s = {total / wall:.0f} req/s; "
              f"latency p50 {statistics.median(lat) * 1000:.1f} ms, p95 {lat[int(total * 0.95)] * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms (curl's time_total, each request a new curl process)")
        print("  p50 by request: " + ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms"
                                               for k, v in sorted(kinds.items())))

        def check_report():
            rep = expect(r("GET", f"/campaigns/{cid}/report"), 200, "report")
            tot = rep["total"]
            want = sum(1 for i in test if i % 3 == 0)
            control = sum(1 for i in range(N) if i not in test and i % 3 == 0)
            assert tot["contacted"] == len(test), (tot, len(test))
            assert tot["delivered"] == len(test), tot
            assert tot["responders"] == want, (tot["responders"], want)
            assert tot["control_responders"] == control, (tot["control_responders"], control)
            return tot

        tot = check_report()
    finally:
        stop(p)
    # The same file store after a restart: the same report.
    p, port = start(store)
    try:
        r = lambda *a, **k: curl(port, *a, **k)  # noqa: E731
        assert check_report() == tot
    finally:
        stop(p)
    print(f"ok: crm-server ran a campaign over HTTP ({len(test)} sends, {tot['responders']} responders), "
          "answered bad bodies with 4xx naming the field, survived the load and a restart")


main()
