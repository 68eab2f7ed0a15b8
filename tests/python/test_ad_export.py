"""An ad audience end to end from Python: an X-Engage message whose only creatives are ad channels
(X-Engage's seed rule: a test group of at least 100,000; a plain message may have ad creatives too) leaves
through a Python export callback as hashed identifiers, never through the transport; a part
refused once comes back with the same key and list; what the platform received equals, hash for
hash, the customers the ledger holds as accepted (hashes recomputed here with hashlib from the
contacts as written); and after a reopen nothing is exported twice."""
import hashlib
import os
import tempfile
import unittest

import engage
from engage import _native

T0 = 1767225600000
N = 105600  # a 5 % control leaves a test group over the 100,000 minimum


def phone(i):
    return f"+1-555-{i:07d}" if i % 2 else f"(+1)555.{i:07d}"


def email(i):
    return f"C{i}@Example.com" if i % 3 else ""


class Transport(engage.Transport):
    def __init__(self):
        self.sent = 0

    def send_batch(self, envelopes):
        self.sent += len(envelopes)
        return ["accepted"] * len(envelopes)


class Platform:
    """What the ad platforms received: per idempotency key, the list, first acceptance only."""

    def __init__(self, refuse_first=2):
        self.parts = {}
        self.calls = 0
        self.refuse_first = refuse_first
        self.changed = 0
        self.hashes = {"facebook": [], "google": []}

    def __call__(self, manifest, hashes):
        self.calls += 1
        digest = hashlib.sha256("".join(h + "\n" for h in hashes).encode()).hexdigest()
        if digest != manifest["list_sha256"] or len(hashes) != manifest["count"]:
            raise AssertionError("manifest does not describe its list")
        p = self.parts.get(manifest["key"])
        if p is None:
            p = self.parts[manifest["key"]] = {"list": digest, "channel": manifest["channel"], "calls": 0,
                                               "accepted": False, "order": len(self.parts)}
        elif p["list"] != digest or p["channel"] != manifest["channel"]:
            self.changed += 1
        p["calls"] += 1
        if p["calls"] == 1 and p["order"] < self.refuse_first:
            return "retry"
        if not p["accepted"]:
            p["accepted"] = True
            self.hashes[manifest["channel"]] += hashes
        return "accepted"


class AdExport(unittest.TestCase):
    @unittest.skipUnless(_native.has("eng_dispatch_hooks_set"), "this library has no ad export")
    def test_ad_audience_leaves_through_python(self):
        tr, platform = Transport(), Platform()
        now = [T0]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ads.eng")
            with engage.Engine(path, nosync=True, transport=tr, clock=lambda: now[0]) as eng:
                eng.create_org("acme", "admin", xengage="unlocked", channel_costs={"facebook": 2, "google": 1})
                eng.put_actor("admin", "asha", ["author"])
                eng.put_actor("admin", "ravi", ["approver"])
                eng.adjust_credits("admin", 10 ** 9)
                eng.adjust_credits("admin", 10 ** 9, account="xengage")
                rows = "".join(f"C{i},{phone(i)},yes,{email(i)},{'yes' if email(i) else ''}\n" for i in range(N))
                eng.import_csv("admin", "id,contact.facebook,consent.facebook,contact.google,consent.google\n"
                               + rows)
                eng.create_group("admin", "all", filter="reachable.facebook")
                cid = eng.create_campaign("asha", "Ads", T0 + engage.DAY, T0 + 30 * engage.DAY, control_percent=5)
                mid = eng.create_message("asha", cid, "Diwali", send_at=T0 + 3 * engage.DAY, include=["all"],
                                         strategy="xengage", channel_priority=["facebook", "google"],
                                         creatives=[{"channel": "facebook", "subject": "Diwali offer",
                                                     "body": "20% off this week"},
                                                    {"channel": "google", "subject": "Diwali", "body": "20% off"}])
                eng.submit("asha", mid)
                eng.approve("ravi", mid)
                now[0] = T0 + 3 * engage.DAY
                eng.set_ad_export(platform)
                for _ in range(1000):
                    eng.run_due("admin", message=mid)
                    if eng.execution("admin", mid)["state"] == "finished":
                        break
                    now[0] += engage.HOUR
                x = eng.execution("admin", mid)
                self.assertEqual(x["state"], "finished", x)
                self.assertEqual(tr.sent, 0)  # nothing went through the transport
                self.assertEqual(platform.changed, 0)
                self.assertGreaterEqual(len(platform.parts), 3)
                for p in platform.parts.values():
                    self.assertTrue(p["accepted"])
                    self.assertEqual(p["calls"], 2 if p["order"] < 2 else 1)
                # The platform holds exactly the accepted sends' identifiers, each once.
                with eng.message_audience("admin", mid) as aud:
                    self.assertGreaterEqual(aud.count("test"), 100000)
                    test_ids = list(aud.ids("test"))
                want = {"facebook": [], "google": []}
                first = None
                for cust in test_ids:  # the replay reads the execution's model once (the engine keeps it)
                    t = eng.trace("admin", mid, cust)
                    chosen = t["channels"]
                    self.assertLessEqual(len(chosen), 1)  # one message on one channel a customer
                    if chosen:  # the replayed decision chose the channel sent
                        self.assertEqual(t["xengage"]["channel"], next(iter(chosen)))
                    i = int(eng.external_id("admin", cust)[1:])
                    for ch, state in chosen.items():
                        self.assertEqual(state, "accepted")
                        contact = "1555%07d" % i if ch == "facebook" else email(i).lower()
                        self.assertTrue(contact, "a google send to a customer without an email")
                        want[ch].append(hashlib.sha256(contact.encode()).hexdigest())
                    if chosen and first is None:
                        first = (cust, next(iter(chosen)))
                s = eng.send("admin", mid, *first)  # the ledger entry agrees with the trace
                full = eng.trace("admin", mid, first[0])  # and the replayed decision chose that channel
                self.assertEqual((full["channels"], full["xengage"]["channel"]), ({first[1]: "accepted"}, first[1]))
                self.assertEqual((s["state"], s["attempts"] >= 1), ("accepted", True))
                for ch in want:
                    self.assertEqual(sorted(platform.hashes[ch]), sorted(want[ch]), ch)
                exported = len(want["facebook"]) + len(want["google"])
                self.assertEqual(x["accepted"], exported)
                self.assertGreater(exported, 90000)
                self.assertLessEqual(exported, len(test_ids))
                calls = platform.calls
            with engage.Engine(path, nosync=True, transport=tr, clock=lambda: now[0]) as eng:
                eng.set_ad_export(platform)
                eng.run_due("admin", now=now[0] + engage.DAY)
                self.assertEqual(platform.calls, calls)
                self.assertEqual(eng.execution("admin", mid)["accepted"], exported)


if __name__ == "__main__":
    unittest.main()
