"""The offers catalogue through the binding: create, read, list, update, remove; refusals name
their field; a message claims an offer and carries its terms; validity outside the campaign's
dates is refused at claim and at submit."""
import unittest

import engage
from engage import _native

T0 = 1767225600000
DAY = engage.DAY
CSV = "id,contact.sms,consent.sms\n" + "".join(f"C{i},+9198{i:08d},yes\n" for i in range(10))


@unittest.skipUnless(_native.has("eng_offer_create"), "this library has no offers catalogue")
class Offers(unittest.TestCase):
    def setUp(self):
        self.now = [T0]
        self.bodies = {}

        def transport(envs):
            self.bodies.update({e.customer: e.body for e in envs})
            return ["accepted"] * len(envs)
        self.eng = engage.Engine(transport=transport, clock=lambda: self.now[0])
        self.eng.create_org("acme", "admin", allow_self_approval=True)
        self.eng.put_actor("admin", "vic", ["viewer"])
        self.eng.import_csv("admin", CSV)
        self.eng.create_group("admin", "all", ids=[f"C{i}" for i in range(10)])

    def tearDown(self):
        self.eng.close()

    def test_catalogue(self):
        eng = self.eng
        eng.create_offer("admin", "d20", "Diwali 20", T0 + DAY, T0 + 9 * DAY, code="DIWALI20")
        eng.create_offer("admin", "boots", "Boots", T0 + DAY, T0 + 9 * DAY, pool="boots-pool")
        eng.create_offer("admin", "gen", "Generated", T0 + DAY, T0 + 9 * DAY, pool="g", source="generated")
        self.assertEqual([o["id"] for o in eng.offers("vic")], ["boots", "d20", "gen"])
        self.assertEqual(eng.offer("vic", "d20"), {"id": "d20", "name": "Diwali 20", "valid_from": T0 + DAY,
                                                   "valid_until": T0 + 9 * DAY, "source": "common",
                                                   "code": "DIWALI20", "pool": None})
        eng.update_offer("admin", "boots", "Boots v2", T0 + DAY, T0 + 5 * DAY, pool="boots-pool")
        self.assertEqual(eng.offer("admin", "boots")["name"], "Boots v2")
        self.assertEqual(eng.offer("admin", "gen")["source"], "generated")
        eng.remove_offer("admin", "gen")
        self.assertEqual([o["id"] for o in eng.offers("admin")], ["boots", "d20"])
        with self.assertRaises(engage.NotFound):
            eng.offer("admin", "gen")

    def test_refusals(self):
        eng = self.eng
        eng.create_offer("admin", "d20", "Diwali 20", T0 + DAY, T0 + 9 * DAY, code="DIWALI20")
        cases = [(dict(id="x", name="X", valid_from=T0 + DAY, valid_until=T0, code="C"), "offer.valid_until"),
                 (dict(id="x", name="X", valid_from=T0, valid_until=T0 + DAY, code="HAS SPACE"), "offer.coupon_code"),
                 (dict(id="x", name="X", valid_from=T0, valid_until=T0 + DAY), "offer.coupon_code"),
                 (dict(id="x/y", name="X", valid_from=T0, valid_until=T0 + DAY, code="C"), "offer.id"),
                 (dict(id="x", name="", valid_from=T0, valid_until=T0 + DAY, code="C"), "offer.name")]
        for kw, field in cases:
            with self.assertRaises(engage.EngageError) as cm:
                eng.create_offer("admin", **kw)
            self.assertEqual(cm.exception.detail, field)
        with self.assertRaises(engage.AlreadyExists):
            eng.create_offer("admin", "d20", "Again", T0, T0 + DAY, code="C")
        with self.assertRaises(engage.Denied):
            eng.create_offer("vic", "v1", "Viewer's", T0, T0 + DAY, code="C")
        with self.assertRaises(engage.NotFound):
            eng.remove_offer("admin", "nope")
        self.assertEqual([o["id"] for o in eng.offers("admin")], ["d20"])  # nothing else stored

    def test_claim_and_send(self):
        eng = self.eng
        cid = eng.create_campaign("admin", "C", T0 + DAY, T0 + 9 * DAY, control_percent=0)
        eng.create_offer("admin", "d20", "Diwali 20", T0 + DAY, T0 + 9 * DAY, code="DIWALI20")
        eng.create_offer("admin", "late", "Too late", T0 + DAY, T0 + 30 * DAY, code="LATE")
        sms = [{"channel": "sms", "body": "Code {{coupon_code}} {{optout}}"}]
        with self.assertRaises(engage.ValidationError) as cm:
            eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * DAY, offer_id="late",
                               creatives=sms)
        self.assertIn("message.incentive.offer_id", cm.exception.paths())
        with self.assertRaises(engage.ValidationError) as cm:
            eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * DAY, offer_id="nope",
                               creatives=sms)
        self.assertIn("message.incentive.offer_id", cm.exception.paths())
        mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * DAY, offer_id="d20",
                                 creatives=sms)
        eng.update_offer("admin", "d20", "Diwali 25", T0 + DAY, T0 + 9 * DAY, code="DIWALI25")
        with self.assertRaises(engage.ValidationError) as cm:
            eng.submit("admin", mid)  # the offer changed since the claim
        self.assertIn("message.incentive.offer_id", cm.exception.paths())
        eng.update_message("admin", mid, "M", include=["all"], send_at=T0 + 2 * DAY, offer_id="d20",
                           creatives=sms)  # claim it again
        eng.submit("admin", mid)
        eng.approve("admin", mid)
        self.now[0] = T0 + 2 * DAY
        self.assertEqual(eng.run_due("admin")["accepted"], 10)
        self.assertEqual(len(self.bodies), 10)
        for body in self.bodies.values():
            self.assertIn("DIWALI25", body)


if __name__ == "__main__":
    unittest.main()
