"""Events and storage from Python: transactions streamed from a file object (a reader that
raises fails the import, stores nothing and is the error's cause), receipts waiting for their
send, unsubscribe links applied (a forged token refused), event retention and compaction, and
the file store's compaction policy with the eng_info v2 figures."""
import datetime
import io
import os
import re
import tempfile
import unittest

import engage
from email_world import email_world

T0 = 1767225600000
N = 40


class Mail(engage.Transport):
    def __init__(self):
        self.sent = []

    def send_batch(self, envelopes):
        self.sent += envelopes
        return ["accepted"] * len(envelopes)


class Events(unittest.TestCase):
    def setUp(self):
        self.now = T0
        self.mail = Mail()
        self.eng = engage.Engine(transport=self.mail, clock=lambda: self.now)
        email_world(self.eng, N)

    def tearDown(self):
        self.eng.close()

    def run_campaign(self):
        eng = self.eng
        cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 20 * engage.DAY, control_percent=0)
        mid = eng.create_message("admin", cid, "m", include=["all"], send_at=T0 + 2 * engage.DAY,
                                 creatives=[{"channel": "email", "subject": "Hi", "body": "<a>{{unsubscribe}}</a>"}])
        eng.submit("admin", mid)
        eng.approve("admin", mid)
        self.now = T0 + 2 * engage.DAY
        eng.run_due("admin")
        self.assertEqual(len(self.mail.sent), N)
        return cid, mid

    def test_transactions_from_a_file_object(self):
        eng = self.eng
        csv = "id,customer,time,amount\n" + "".join(f"T{i},C{i},{T0 + i},{i}.5\n" for i in range(N))
        rep = eng.import_transactions_csv("acme", io.BytesIO(csv.encode()))
        self.assertEqual((rep["rows"], rep["accepted"]), (N, N))
        got = sorted((t["id"], str(t["amount"])) for t in eng.transactions("acme"))
        self.assertEqual(got, sorted((f"T{i}", f"{i}.5") for i in range(N)))
        # A text file object streams too; a reader that raises stores nothing.
        self.assertEqual(eng.import_transactions_csv("acme", io.StringIO(csv))["duplicates"], N)

        class Broken(io.RawIOBase):
            calls = 0

            def read(self, n=-1):
                self.calls += 1
                if self.calls > 1:
                    raise ValueError("network dropped")
                return b"id,customer,time,amount\nX1,C1,1,1\n"
        with self.assertRaises(engage.EngageError) as cm:
            eng.import_transactions_csv("acme", Broken())
        self.assertIsInstance(cm.exception.__cause__, ValueError)
        self.assertNotIn("X1", [t["id"] for t in eng.transactions("acme")])
        with self.assertRaises(engage.InvalidArgument) as cm:
            eng.import_transactions_csv("acme", io.StringIO("id,customer,time,amount\nT1,C1,notatime,1\n"))
        self.assertRegex(cm.exception.detail, r"^2:\d+$")

    def test_times_as_aware_datetimes(self):
        """Receipts and transactions take aware datetimes (converted exactly: the same stored
        times as the milliseconds); a naive one is refused before anything is stored."""
        eng = self.eng
        cid, mid = self.run_campaign()
        ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
        at = T0 + 2 * engage.DAY + 90061001  # 1 d 1 h 1 min 1.001 s after the send

        def aware(t):
            return datetime.datetime.fromtimestamp(t / 1000, tz=datetime.timezone.utc).astimezone(ist)
        keys = [e.key for e in self.mail.sent[:3]]
        rep = eng.append_receipts([{"key": keys[0], "status": "delivered", "time": aware(at)},
                                   {"key": keys[1], "status": "delivered", "time": at}])
        self.assertEqual(rep["accepted"], 2)
        c0, c1 = self.mail.sent[0].customer, self.mail.sent[1].customer
        got = [[t["time"] for t in eng.touches("acme", c) if t["status"] == "delivered"] for c in (c0, c1)]
        self.assertEqual(got, [[at], [at]])
        eng.append_transactions("acme", [{"id": "D1", "customer": "C1", "time": aware(at), "amount": 3}])
        self.assertEqual([t["time"] for t in eng.transactions("acme") if t["id"] == "D1"], [at])
        for call, rows in ((eng.append_receipts, [{"key": keys[2], "status": "opened",
                                                   "time": datetime.datetime(2026, 1, 5)}]),
                           (eng.append_transactions, [{"id": "D2", "customer": "C2", "amount": 1,
                                                       "time": datetime.datetime(2026, 1, 5)}])):
            with self.assertRaises(ValueError) as cm:
                call(*(("acme", rows) if call == eng.append_transactions else (rows,)))
            self.assertIn("zone", str(cm.exception))
        self.assertNotIn("D2", [t["id"] for t in eng.transactions("acme")])

    def test_receipt_waits_for_its_send(self):
        eng = self.eng
        self.assertEqual(eng.pending_receipts(), 0)
        eng.append_receipts([{"key": "not-sent-yet", "status": "delivered", "time": T0}])
        self.assertEqual(eng.pending_receipts(), 1)
        self.assertEqual(eng.sends_in_doubt(), 0)  # a receipt waiting is no send in doubt
        # keys go with their lengths (eng_receipts version 2): a NUL inside one is refused, not
        # taken as its end, and the batch changes nothing
        with self.assertRaises(engage.InvalidArgument) as cm:
            eng.append_receipts([{"key": "wait-x", "status": "delivered", "time": T0},
                                 {"key": "not-sent-yet\0tail", "status": "opened", "time": T0}])
        self.assertEqual(cm.exception.detail, "receipts[1].keys")
        self.assertEqual(eng.pending_receipts(), 1)

    def test_unsubscribe_link_and_retention(self):
        eng = self.eng
        cid, mid = self.run_campaign()
        e = self.mail.sent[0]
        token = re.search(r"\?t=([^\"<&]+)", e.body).group(1)
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        with self.assertRaises(engage.Denied):
            eng.apply_unsubscribe("acme", forged)
        self.assertTrue(eng.reachable("admin", e.customer, "email"))  # nothing recorded
        with self.assertRaises(engage.InvalidArgument):
            eng.apply_unsubscribe("acme", "garbage")
        info = eng.apply_unsubscribe("acme", token)
        self.assertEqual(info, {"campaign": cid, "customer": e.customer, "channel": "email"})
        self.assertEqual(eng.apply_unsubscribe("acme", token), info)  # twice is harmless
        self.assertFalse(eng.reachable("admin", e.customer, "email"))
        self.assertEqual(eng.customer_value("admin", e.customer, "optout.email") is not None, True)
        # Retention: the sends of two days ago go at the next compaction.
        self.assertEqual(len(eng.touches("acme", e.customer)), 1)
        eng.compact_events()
        self.assertEqual(eng.events_complete_from("acme"), 0)  # nothing dropped yet
        self.now = T0 + 10 * engage.DAY
        with self.assertRaises(engage.InvalidArgument):
            eng.set_retention("admin", 36501)
        eng.set_retention("admin", 1)
        eng.compact_events()
        self.assertEqual(eng.touches("acme", e.customer), [])
        cut = eng.events_complete_from("acme")
        self.assertGreater(cut, T0 + 2 * engage.DAY)
        self.assertLessEqual(cut, self.now)


class FileStore(unittest.TestCase):
    def test_compaction_policy_and_info(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "e.eng")
            with engage.Engine(path, nosync=True, compaction={"enabled": False}) as eng:
                eng.create_org("acme", "admin")
                for i in range(30):
                    eng.set_org_settings("admin", xengage_cost=i)
                i1 = eng.info()
                self.assertEqual(i1["store_kind"], "file")
                self.assertEqual(i1["store_compactions"], 0)
                self.assertGreater(i1["store_dead_bytes"], 0)
                self.assertEqual(i1["store_file_bytes"], os.path.getsize(path))
                self.assertGreaterEqual(i1["store_file_bytes"], i1["store_live_bytes"] + i1["store_dead_bytes"])
                eng.compact_store()
                i2 = eng.info()
                self.assertEqual(i2["store_compactions"], 1)
                self.assertLess(i2["store_dead_bytes"], i1["store_dead_bytes"])
                self.assertEqual(i2["store_file_bytes"], os.path.getsize(path))
                eng.set_compaction(min_dead_bytes=1, dead_percent=1)  # compact after nearly every commit
                for i in range(5):
                    eng.set_org_settings("admin", xengage_cost=100 + i)
                self.assertGreater(eng.info()["store_compactions"], 1)
                with self.assertRaises(engage.InvalidArgument):
                    eng.set_compaction(enabled=2)
            with engage.Engine(path, nosync=True) as eng:
                self.assertEqual(eng.org_settings("admin")["xengage_cost"], 104)
        with engage.Engine() as eng:
            self.assertEqual(eng.info()["store_file_bytes"], 0)
            with self.assertRaises(engage.EngageError) as cm:
                eng.set_compaction(enabled=False)
            self.assertEqual(cm.exception.code, engage.ENG_EMISUSE)
        with self.assertRaises(ValueError):
            engage.Engine(compaction={"enabled": False})


if __name__ == "__main__":
    unittest.main()
