"""Calls a host's campaign loop needs from Python (issue 12, tools/xengage-sim/pyworld.py): the keys
of sends the host never saw as envelopes (an ad export gives only hashed identifiers) without a ledger
read each, the identifiers of all its contacts at once, and envelopes whose text is decoded only when
read, yet still a copy safe to keep."""
import unittest

import engage

T0 = 1767225600000
N = 300


def wa(i):
    return f"+9197{i:08d}" if i % 4 else ""  # every fourth customer has no WhatsApp


class Keep(engage.Transport):
    batch_size = 64

    def __init__(self):
        self.kept = []

    def send_batch(self, envelopes):
        self.kept.extend(envelopes)
        return ["accepted"] * len(envelopes)


class HostCalls(unittest.TestCase):
    def setUp(self):
        self.now = [T0]
        self.tr = Keep()
        self.eng = engage.Engine(transport=self.tr, clock=lambda: self.now[0])
        e = self.eng
        e.create_org("acme", "admin", channel_costs={"sms": 3, "whatsapp": 2})
        e.put_actor("admin", "asha", ["author"])
        e.put_actor("admin", "ravi", ["approver"])
        e.adjust_credits("admin", 10 ** 9)
        e.import_csv("admin", "id,contact.sms,consent.sms,contact.whatsapp,consent.whatsapp\n" + "".join(
            f"C{i},+9198{i:08d},yes,{wa(i)},{'yes' if wa(i) else ''}\n" for i in range(N)))
        e.create_group("admin", "all", filter="reachable.sms")
        cid = e.create_campaign("asha", "Launch", T0 + engage.DAY, T0 + 30 * engage.DAY, control_percent=10)
        self.mid = e.create_message("asha", cid, "Launch", include=["all"], send_at=T0 + 2 * engage.DAY,
                                    creatives=[{"channel": "sms", "body": "Hi from {{campaign_name}} {{optout}}"},
                                               {"channel": "whatsapp", "body": "Hello"}])
        e.submit("asha", self.mid)
        e.approve("ravi", self.mid)
        self.now[0] = T0 + 2 * engage.DAY
        e.run_due("admin", message=self.mid)
        self.assertEqual(e.execution("admin", self.mid)["state"], "finished")

    def tearDown(self):
        self.eng.close()

    def test_send_keys_are_the_ledger_keys(self):
        e, mid = self.eng, self.mid
        with e.message_audience("admin", mid) as aud:
            test = list(aud.ids("test"))
            control = list(aud.ids("control"))
        self.assertGreater(len(test), 200)
        seen = {(x.customer, x.channel): x.key for x in self.tr.kept}
        for ch in ("sms", "whatsapp"):
            who = [c for c in test if (c, ch) in seen]
            self.assertGreater(len(who), 150 if ch == "whatsapp" else 250)
            keys = e.send_keys("admin", mid, who, ch)
            # the envelopes' keys and the ledger's (eng_send_get) are the reference
            self.assertEqual(keys, [seen[(c, ch)] for c in who])
            self.assertEqual(keys[::37], [e.send("admin", mid, c, ch)["key"] for c in who[::37]])
            self.assertEqual(len(set(keys)), len(keys))
            # receipts keyed by them match their sends, none left pending
            rep = e.append_receipts([{"key": k, "status": "delivered", "time": self.now[0] + 1} for k in keys])
            self.assertEqual((rep["accepted"], rep["unmatched"]), (len(keys), 0))
        self.assertEqual(e.pending_receipts(), 0)
        self.assertEqual(e.send_keys("admin", mid, [], "sms"), [])
        no_wa = next(c for c in test if (c, "whatsapp") not in seen)
        with self.assertRaises(engage.NotFound):  # the first is read from the ledger: not planned, not found
            e.send_keys("admin", mid, [no_wa, test[0]], "whatsapp")
        with self.assertRaises(engage.NotFound):
            e.send_keys("admin", mid, [control[0]], "sms")
        with self.assertRaises(ValueError):
            e.send_keys("admin", mid, test[:2], "pigeon")

    def test_ad_identifier_hashes(self):
        """All of a host's contacts hashed at once, against hashlib on the normalised contacts."""
        import hashlib
        mails = [f" C{i}@Ads.Example " for i in range(500)]
        self.assertEqual(engage.ad_identifier_hashes("google", mails),
                         [hashlib.sha256(m.strip().lower().encode()).hexdigest() for m in mails])
        phones = [f"+1 (555) {i:07d}" for i in range(0, 5000, 10)]
        self.assertEqual(engage.ad_identifier_hashes("facebook", phones),
                         [hashlib.sha256(("1555%07d" % i).encode()).hexdigest() for i in range(0, 5000, 10)])
        self.assertEqual(engage.ad_identifier_hashes("google", mails[:3]),
                         [engage.ad_identifier_hash("google", m) for m in mails[:3]])
        self.assertEqual(engage.ad_identifier_hashes("youtube", []), [])
        with self.assertRaises(engage.InvalidArgument) as cm:
            engage.ad_identifier_hashes("google", mails[:2] + ["hello"] + mails[2:4])
        self.assertEqual(cm.exception.detail, "contacts[2]")
        self.assertIn("'hello'", cm.exception.message)
        with self.assertRaises(engage.InvalidArgument) as cm:
            engage.ad_identifier_hashes("sms", mails[:2])
        self.assertEqual(cm.exception.detail, "channel")

    def test_kept_envelopes_read_after_the_batch(self):
        e = self.eng
        self.assertEqual(len(self.tr.kept), sum(1 for x in self.tr.kept if x.channel in ("sms", "whatsapp")))
        for x in self.tr.kept:  # read after eng_run_due returned: the C memory is gone, the copy is not
            ext = e.external_id("admin", x.customer)
            i = int(ext[1:])
            if x.channel == "sms":
                self.assertEqual(x.recipient, f"+9198{i:08d}")
                self.assertTrue(x.body.startswith("Hi from Launch "), x.body)
            else:
                self.assertEqual((x.recipient, x.body), (wa(i), "Hello"))
            self.assertEqual((x.subject, x.sender, x.message, x.attempt), ("", "", self.mid, 1))
            self.assertIn(x.key, repr(x))
        with self.assertRaises(AttributeError):
            self.tr.kept[0].recipient = "x"  # read-only, as the fields of a copy should be


if __name__ == "__main__":
    unittest.main()
