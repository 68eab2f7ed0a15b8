"""X-Engage from Python: the seed rules (a test group of at least 100,000, a send time 50 hours
away, approval 48 hours ahead), an execution batch by batch through a Python transport with
receipts between batches, and the report's off-policy estimates."""
import random
import unittest

import engage

T0 = 1767225600000
N = 105600  # a 5 % control leaves a test group over the 100,000 minimum
OPEN = {"email": 0.05, "sms": 0.15, "whatsapp": 0.40}


class Provider(engage.Transport):
    batch_size = 4096

    def __init__(self):
        self.batch = []

    def send_batch(self, envelopes):
        self.batch.extend((e.key, e.channel, e.customer) for e in envelopes)
        return ["accepted"] * len(envelopes)


class XEngage(unittest.TestCase):
    def test_execution_learns_and_reports(self):
        rnd = random.Random(7)
        now = [T0]
        p = Provider()
        with engage.Engine(transport=p, clock=lambda: now[0]) as eng:
            eng.create_org("acme", "admin", xengage="unlocked", channel_costs={"email": 1, "sms": 3, "whatsapp": 2})
            eng.put_actor("admin", "asha", ["author"])
            eng.put_actor("admin", "ravi", ["approver"])
            eng.adjust_credits("admin", 10 ** 9)
            eng.adjust_credits("admin", 10 ** 9, account="xengage")
            eng.setup_unsubscribe("admin", "https://shop.example/u", b"0123456789abcdef0123")
            rows = "".join(f"C{i},c{i}@x.in,yes,+9198{i:08d},yes,+9197{i:08d},yes\n" for i in range(N))
            eng.import_csv("admin", "id,contact.email,consent.email,contact.sms,consent.sms,contact.whatsapp,"
                                    "consent.whatsapp\n" + rows)
            eng.append_transactions("acme", [{"id": f"H{i}", "customer": f"C{i}", "time": T0 - 5 * engage.DAY,
                                              "amount": 500} for i in range(0, N, 7)])
            eng.create_group("admin", "all", filter="reachable.email")
            cid = eng.create_campaign("asha", "X", T0 + engage.DAY, T0 + 30 * engage.DAY, control_percent=5)
            fields = dict(include=["all"], strategy="xengage", channel_priority=["email", "sms", "whatsapp"],
                          creatives=[{"channel": "email", "subject": "Hi", "body": "<p>Hi</p>{{unsubscribe}}"},
                                     {"channel": "sms", "body": "Hi {{optout}}"},
                                     {"channel": "whatsapp", "body": "Hi"}])
            # The seed rule: X-Engage needs a send time at least 50 hours away.
            bad = eng.create_message("asha", cid, "too soon", send_at=T0 + 10 * engage.HOUR, **fields)
            with self.assertRaises(engage.ValidationError) as cm:
                eng.submit("asha", bad)
            self.assertIn("message.schedule.at", cm.exception.paths())
            eng.delete_message("asha", bad)
            mid = eng.create_message("asha", cid, "Launch", send_at=T0 + 3 * engage.DAY, **fields)
            eng.submit("asha", mid)
            eng.approve("ravi", mid)
            now[0] = T0 + 3 * engage.DAY
            mix, sent_log = [], []
            for _ in range(60):
                eng.run_due("admin", message=mid, max_batches=1)
                receipts, buys = [], []
                sent_log.extend(p.batch)
                for key, ch, cust in p.batch:
                    receipts.append({"key": key, "status": "delivered", "time": now[0] + 60000})
                    if rnd.random() < OPEN[ch]:
                        receipts.append({"key": key, "status": "opened", "time": now[0] + 120000})
                        if rnd.random() < 0.2:
                            buys.append({"id": key, "customer": f"C{cust}", "time": now[0] + 180000,
                                         "amount": 800})
                if p.batch:
                    eng.append_receipts(receipts)
                    eng.append_transactions("acme", buys)
                    mix.append(sum(1 for b in p.batch if b[1] == "whatsapp") / len(p.batch))
                p.batch = []
                if eng.execution("admin", mid)["state"] == "finished":
                    break
                now[0] += 2 * engage.HOUR
            x = eng.execution("admin", mid)
            self.assertEqual(x["state"], "finished")
            self.assertGreaterEqual(x["audience"], 100000)
            self.assertGreater(len(mix), 10)
            # It learns between batches: the best-opening channel's share grows.
            self.assertGreater(sum(mix[-5:]) / 5, mix[0] + 0.2, mix)
            self.assertEqual(eng.trace("admin", mid, 0)["rule"] in ("xengage", "unreachable"), True)
            # The trace says why this channel: the replayed decision, its estimates, cost and draw.
            seen = 0
            for key, ch, cust in sent_log[:200]:
                t = eng.trace("admin", mid, cust)
                xe = t["xengage"]
                self.assertEqual(xe["channel"], ch)
                self.assertEqual(set(xe["estimates"]), {"email", "sms", "whatsapp"})
                est = xe["estimates"]
                for name, e in est.items():
                    self.assertAlmostEqual(e["score"], xe["value"] * e["delivery"] * e["engagement_used"]
                                           * e["conversion_used"] - e["cost"], places=6)
                if xe["explored"]:
                    self.assertAlmostEqual(xe["propensity"], 1 / 3)
                else:
                    self.assertEqual(max(est, key=lambda n: est[n]["score"]), ch)
                seen += 1
            self.assertEqual(seen, 200)
            now[0] = T0 + 31 * engage.DAY
            with eng.campaign_report("admin", cid) as r:
                self.assertEqual(r.total()["contacted"], x["accepted"])
                self.assertIsNotNone(r.ope("xengage"))
                self.assertIsNone(r.ope("send_all"))


if __name__ == "__main__":
    unittest.main()
