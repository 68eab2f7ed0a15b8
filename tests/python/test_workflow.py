"""A campaign end to end through the Python binding: org, actors, credits, customers, groups,
a campaign with a goal, a message, validation, approval, the frozen audience, execution through
a Python transport, traces, receipts, transactions, the campaign report (checked against a
brute-force count written here), exports, the audit chain, and errors with field paths."""
import json
import unittest

import engage

T0 = 1767225600000  # 2026-01-01
N = 300


class Recorder(engage.Transport):
    """A provider that accepts everything and remembers it."""
    batch_size = 64

    def __init__(self):
        self.sent = []

    def send_batch(self, envelopes):
        self.sent.extend(envelopes)
        return ["accepted"] * len(envelopes)


class Workflow(unittest.TestCase):
    def setUp(self):
        self.now = T0
        self.transport = Recorder()
        self.events = []
        self.eng = engage.Engine(transport=self.transport, clock=lambda: self.now)
        eng = self.eng
        eng.create_org("acme", "admin", conversion_goals=True, channel_costs={"sms": 2, "email": 1})
        eng.put_actor("admin", "asha", ["author"])
        eng.put_actor("admin", "ravi", ["approver"])
        eng.adjust_credits("admin", 100000)
        eng.setup_unsubscribe("admin", "https://shop.example/u", b"a-secret-of-16-bytes-or-more")
        eng.on_model_event(self.events.append)
        eng.add_column("admin", "first_name", "string")
        rows = "".join(f"C{i:04d},N{i},+9198{i:08d},yes,c{i}@example.in,{'yes' if i % 2 else 'no'}\n"
                       for i in range(N))
        rep = eng.import_csv("admin", "id,first_name,contact.sms,consent.sms,contact.email,consent.email\n" + rows)
        self.assertEqual(rep["inserted"], N)
        self.group = eng.create_group("admin", "everyone", filter="first_name != ''")

    def tearDown(self):
        self.eng.close()

    def _campaign(self):
        goal = {"event": "transaction", "condition": "amount >= 100", "window_days": 7}
        return self.eng.create_campaign("asha", "Spring", T0 + engage.DAY, T0 + 20 * engage.DAY,
                                        objective="boost_sales", control_percent=10, goal=goal)

    def _message(self, cid, sms_body):
        return dict(include=["everyone"], strategy="channel_priority", channel_priority=["email", "sms"],
                    creatives=[{"channel": "sms", "body": sms_body},
                               {"channel": "email", "subject": "Spring", "body": "<p>Hi</p>{{unsubscribe}}"}],
                    send_at=T0 + 2 * engage.DAY)

    def test_campaign_from_draft_to_report(self):
        eng = self.eng
        cid = self._campaign()
        mid = eng.create_message("asha", cid, "Kick-off", **self._message(cid, "Hi {{first_name}}!"))
        # Every problem at once, with field paths.
        with self.assertRaises(engage.ValidationError) as cm:
            eng.submit("asha", mid)
        self.assertTrue(any(p == "message.creative[sms].body" for p in cm.exception.paths()), cm.exception.items)
        self.assertEqual(eng.message("asha", mid)["state"], "draft")
        eng.update_message("asha", mid, "Kick-off", **self._message(cid, "Hi {{first_name}}! {{optout}}"))
        eng.submit("asha", mid)
        msg = eng.message("ravi", mid)
        self.assertEqual(msg["state"], "awaiting_approval")
        with self.assertRaises(engage.Denied):
            eng.approve("asha", mid, msg["content_hash"])
        eng.approve("ravi", mid, msg["content_hash"], "fine")
        msg = eng.message("ravi", mid)
        self.assertEqual((msg["state"], msg["decided_by"], msg["approved_hash"]),
                         ("approved", "ravi", msg["content_hash"]))
        self.assertEqual([e["kind"] for e in self.events], ["approval_needed", "approved"])
        self.assertEqual(eng.campaign("asha", cid)["messages"], [mid])
        with eng.message_audience("ravi", mid) as aud:
            test, control = list(aud.ids("test")), list(aud.ids("control"))
            self.assertEqual(len(test) + len(control), N)
            self.assertEqual(len(aud.hash()), 64)
        self.assertEqual(eng.dry_run("admin", mid)["contacted"], len(test))

        # Execution: at the send time, through the Python transport.
        self.now = T0 + 2 * engage.DAY
        run = eng.run_due("admin")
        self.assertEqual(run["finished"], 1)
        x = eng.execution("admin", mid)
        self.assertEqual((x["state"], x["accepted"]), ("finished", len(test)))
        self.assertEqual(sorted(e.customer for e in self.transport.sent), test)
        # email first where there is consent (odd customers), else SMS.
        for e in self.transport.sent:
            self.assertEqual(e.channel, "email" if e.customer % 2 else "sms")
        self.assertEqual(eng.trace("admin", mid, test[0])["reason"], "chosen")
        self.assertEqual(eng.trace("admin", mid, control[0])["reason"], "control")
        traces = list(eng.traces("admin", mid))
        self.assertEqual(len(traces), N)
        self.assertEqual(sorted(t["customer"] for t in traces if t["reason"] == "chosen"), test)
        self.assertTrue(all(t["channels"] == {("email" if t["customer"] % 2 else "sms"): "accepted"}
                            for t in traces if t["reason"] == "chosen"))
        e0 = self.transport.sent[0]
        self.assertEqual(eng.send("admin", mid, e0.customer, e0.channel)["key"], e0.key)
        self.assertEqual(eng.message("admin", mid)["state"], "executed")

        # Receipts and purchases.
        rep = eng.append_receipts([{"key": e.key, "status": "delivered", "time": self.now + 60000}
                                   for e in self.transport.sent])
        self.assertEqual(rep["accepted"], len(test))
        self.assertEqual(sum(c["delivered"] for c in eng.touch_counts("acme", cid).values()), len(test))
        ext = {i: eng.external_id("admin", i) for i in range(N)}
        amount = {i: (i % 3) * 60 for i in range(N)}
        txns = [{"id": f"T{i}", "customer": ext[i], "time": self.now + engage.DAY, "amount": amount[i]}
                for i in range(N) if amount[i]]
        self.assertEqual(eng.append_transactions("acme", txns)["accepted"], len(txns))
        self.assertEqual(len(list(eng.transactions("acme"))), len(txns))

        # The report, against a brute-force count: responders bought >= 100 within the window.
        self.now = T0 + 21 * engage.DAY
        with eng.campaign_report("admin", cid) as r:
            total = r.total()
            self.assertEqual(total["contacted"], len(test))
            self.assertEqual(total["responders"], sum(1 for i in test if amount[i] >= 100))
            self.assertEqual(total["control_contacted"], len(control))
            self.assertEqual(total["control_responders"], sum(1 for i in control if amount[i] >= 100))
            self.assertAlmostEqual(total["hit_rate"], 100 * total["responders"] / len(test))
            self.assertEqual(set(r.channels()), {"sms", "email"})
            self.assertEqual([m["message"] for m in r.messages()], [mid])
            self.assertIsNone(r.ope("xengage"))  # not an X-Engage campaign
            as_dict = r.to_dict()
            self.assertEqual(as_dict["total"], total)
            exported = json.loads(r.export("json"))
            self.assertIn("total", exported)
            self.assertTrue(r.export("csv").startswith("scope"))
            # In parts (threads): the same report; too many parts is refused.
            for threads in (0, 2, 4):
                with eng.campaign_report("admin", cid, threads=threads) as r2:
                    self.assertEqual((r2.export("json"), r2.export("csv")), (r.export("json"), r.export("csv")))
            with self.assertRaises(engage.EngageError) as cm:
                eng.campaign_report("admin", cid, threads=65)
            self.assertEqual(cm.exception.detail, "opts.threads")

        # The audit chain saw all of it and verifies.
        actions = [a["action"] for a in eng.audit("admin")]
        for want in ("create", "submit", "approve", "start", "finish"):
            self.assertIn(want, actions)
        eng.verify_audit("admin")

    def test_errors_name_the_field(self):
        eng = self.eng
        with self.assertRaises(engage.InvalidArgument) as cm:
            eng.create_campaign("asha", "Backwards", T0 + 2 * engage.DAY, T0)
        self.assertIn("campaign.end", cm.exception.detail or " ".join(getattr(cm.exception, "paths", list)()))
        with self.assertRaises(engage.NotFound) as cm:
            eng.message("asha", 999)
        self.assertEqual(cm.exception.code, engage.ENG_ENOTFOUND)
        with self.assertRaises(engage.Denied):
            eng.put_actor("asha", "mallory", ["admin"])
        with self.assertRaises(ValueError):
            eng.add_column("admin", "x", "no-such-type")

    def test_actors_settings_and_credits(self):
        eng = self.eng
        self.assertEqual({a["id"] for a in eng.actors("admin")}, {"admin", "asha", "ravi"})
        self.assertEqual(eng.actor("admin", "ravi")["roles"], ["approver"])
        eng.remove_actor("admin", "ravi")
        with self.assertRaises(engage.EngageError):
            eng.message("ravi", 1)
        self.assertEqual(eng.credits("admin"), 100000)
        eng.set_org_settings("admin", xengage="unlocked", channel_costs={"sms": 5})
        s = eng.org_settings("admin")
        self.assertEqual((s["xengage"], s["channel_costs"]["sms"], s["channel_costs"]["email"]), ("unlocked", 5, 1))


if __name__ == "__main__":
    unittest.main()
