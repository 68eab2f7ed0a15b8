"""Attribution over the host's own columns from Python (eng_measure_campaign, eng_measure_org),
checked against figures computed by brute force here from the same generated rows: the
hit-rate definition (no goal) and a goal with a condition over a transaction field, last touch;
bad columns raise InvalidArgument naming the column."""
import datetime
import random
import unittest
from decimal import Decimal

import engage

T0 = 1767225600000
DAY = engage.DAY
NC = 200
MSG = 7


def generate(seed=5):
    rnd = random.Random(seed)
    test = list(range(0, 150))
    control = list(range(150, NC))
    touches, txns = [], []
    for c in test:
        t = T0 + rnd.randrange(3) * DAY
        touches.append({"customer": c, "message": MSG, "channel": "sms", "status": "sent", "time": t})
        if rnd.random() < 0.8:
            touches.append({"customer": c, "message": MSG, "channel": "sms", "status": "delivered", "time": t + 1000})
    for c in range(NC):
        for _ in range(rnd.randrange(3)):
            txns.append({"customer": c, "time": T0 - 5 * DAY + rnd.randrange(40) * DAY // 2,
                         "amount": Decimal(rnd.randrange(1, 20000)) / 100})
    return test, control, touches, txns


class Measure(unittest.TestCase):
    def setUp(self):
        self.eng = engage.Engine()
        self.test, self.control, self.touches, self.txns = generate()
        self.spec = dict(messages=[MSG], n_customers=NC, start=T0, end=T0 + 10 * DAY, control=self.control,
                         message_sent_at=[T0], channel_costs={"sms": 3})

    def tearDown(self):
        self.eng.close()

    def test_hit_rate_definition(self):
        first = {}
        for t in self.touches:
            if t["status"] == "sent":
                first[t["customer"]] = min(first.get(t["customer"], 1 << 62), t["time"])
        end = self.spec["end"]
        resp = {c for c in first if any(x["customer"] == c and first[c] <= x["time"] <= end for x in self.txns)}
        cresp = {c for c in self.control if any(x["customer"] == c and T0 <= x["time"] <= end for x in self.txns)}
        sales = sum(x["amount"] for x in self.txns if x["customer"] in resp and first[x["customer"]] <= x["time"] <= end)
        self.assertTrue(resp and cresp and len(resp) < len(first))  # the data decides something
        with self.eng.measure_campaign(self.touches, self.txns, **self.spec) as r:
            f = r.total()
        self.assertEqual(f["responder_def"], "hit_rate")
        self.assertEqual((f["contacted"], f["sent"]), (len(first), len(first)))
        self.assertEqual(f["delivered"], sum(1 for t in self.touches if t["status"] == "delivered"))
        self.assertEqual(f["responders"], len(resp))
        self.assertAlmostEqual(f["hit_rate"], 100 * len(resp) / len(first))
        self.assertEqual((f["control_contacted"], f["control_responders"]), (len(self.control), len(cresp)))
        self.assertEqual(f["credits_spent"], 3 * len(first))
        self.assertEqual(f["responder_sales"], sales)

    def test_goal_with_condition_last_touch(self):
        goal = {"event": "transaction", "condition": "amount >= 50", "window_days": 3, "start_on": "delivered"}
        window = 3 * DAY
        start = {}
        for t in self.touches:
            if t["status"] == "delivered":
                start[t["customer"]] = t["time"]
        conv = [x for x in self.txns if x["amount"] >= 50 and x["customer"] in start
                and start[x["customer"]] <= x["time"] <= start[x["customer"]] + window]
        self.assertTrue(conv and len(conv) < len(self.txns))
        with self.eng.measure_campaign(self.touches, self.txns, goal=goal, fields=[("amount", "decimal")],
                                       **self.spec) as r:
            f = r.total()
            per_message = list(r.messages())
        self.assertEqual(f["responder_def"], "goal")
        self.assertEqual(f["conversions"], len(conv))
        self.assertEqual(f["responders"], len({x["customer"] for x in conv}))
        self.assertEqual(f["responder_sales"], sum(x["amount"] for x in conv))
        self.assertEqual([m["message"] for m in per_message], [MSG])

    def test_org_dashboard_sums_the_period(self):
        now = T0 + 6 * DAY
        camp = dict(self.spec)
        figs = self.eng.measure_org(self.touches, self.txns, [camp], now=now, period="7_days", credits_remaining=-12)
        with self.eng.measure_campaign(self.touches, self.txns, **self.spec) as r:
            f = r.total()  # every touch and the campaign lie inside the 7 days
        self.assertEqual((figs["campaigns"], figs["to"], figs["credits_remaining"]), (1, now, -12))
        self.assertEqual((figs["contacted"], figs["sent"], figs["delivered"]), (f["contacted"], f["sent"], f["delivered"]))
        self.assertAlmostEqual(figs["delivery_rate"], 100 * f["delivered"] / f["sent"])
        with self.assertRaises(KeyError):
            self.eng.measure_org(self.touches, self.txns, [camp], now=now, period="1_year")

    def test_own_keys_and_datetimes(self):
        """A host's own customer keys (hex strings, as the Starbucks data's) with n_customers left
        out, and aware datetimes for every time: the same report, byte for byte, as with dense ids
        and milliseconds; a naive datetime is refused."""
        utc = datetime.timezone.utc

        def when(ms):  # the same instant, written in UTC+05:30
            return datetime.datetime.fromtimestamp(ms / 1000, tz=utc).astimezone(
                datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
        key = {c: f"{c * 2654435761 % 2 ** 32:08x}" for c in range(NC)}
        touches = [dict(t, customer=key[t["customer"]], time=when(t["time"])) for t in self.touches]
        txns = [dict(x, customer=key[x["customer"]], time=when(x["time"])) for x in self.txns]
        goal = {"event": "transaction", "condition": "amount >= 50", "window_days": 3, "attribution": "linear"}
        spec = dict(self.spec, n_customers=None, control=[key[c] for c in self.control], start=when(T0),
                    end=when(T0 + 10 * DAY), message_sent_at=[when(T0)])
        for g in (None, goal):
            fields = [("amount", "decimal")] if g else ()
            with self.eng.measure_campaign(self.touches, self.txns, goal=g, fields=fields, **self.spec) as r:
                want = r.export("json")
            with self.eng.measure_campaign(touches, txns, goal=g, fields=fields, **spec) as r:
                self.assertEqual(r.export("json"), want)
        org = self.eng.measure_org(touches, txns, [spec], now=when(T0 + 6 * DAY))
        self.assertEqual(org, self.eng.measure_org(self.touches, self.txns, [self.spec], now=T0 + 6 * DAY))
        with self.assertRaises(ValueError) as cm:
            self.eng.measure_campaign(touches, txns, **dict(spec, start=datetime.datetime(2026, 1, 1)))
        self.assertIn("zone", str(cm.exception))

    def test_bad_columns(self):
        bad = self.touches + [{"customer": NC + 5, "message": MSG, "channel": "sms", "status": "sent", "time": T0}]
        with self.assertRaises(engage.InvalidArgument) as cm:
            self.eng.measure_campaign(bad, self.txns, **self.spec)
        self.assertIn("customer", cm.exception.detail)
        with self.assertRaises(engage.InvalidArgument) as cm:
            self.eng.measure_campaign(self.touches, self.txns, goal={"condition": "amount >>= 1"},
                                      fields=[("amount", "decimal")], **self.spec)
        self.assertRegex(cm.exception.detail, r"\d+:\d+")
        self.assertTrue(cm.exception.message.startswith("goal condition: "), cm.exception.message)  # was ": : "
        self.assertNotIn(": :", cm.exception.message)
        # a model or status the binding does not know is named with the names it knows (it was a bare
        # KeyError: 'position_based', the docs' words for "position")
        for key, bad_name, known in (("attribution", "position_based", "position"), ("start_on", "open", "opened")):
            with self.assertRaises(ValueError) as cm:
                self.eng.measure_campaign(self.touches, self.txns, goal={"condition": "amount > 1", key: bad_name},
                                          fields=[("amount", "decimal")], **self.spec)
            self.assertIn(repr(bad_name), str(cm.exception))
            self.assertIn(repr(known), str(cm.exception))


if __name__ == "__main__":
    unittest.main()
