"""Audiences through the Python binding, checked against plain Python over the same rows."""
import os
import tempfile
import unittest

import engage

CITIES = ["Pune", "Mumbai", "Delhi"]
A = "acme-admin"


def people(n):
    rows = []
    for i in range(n):
        rows.append({"id": f"C{i}", "city": CITIES[i % 3], "days": (i * 7) % 100,
                     "phone": f"+9198{i:08d}", "sms_ok": i % 4 != 0})
    return rows


def as_csv(rows):
    lines = ["id,city,days,contact.sms,consent.sms"]
    lines += [f"{r['id']},{r['city']},{r['days']},{r['phone']},{'yes' if r['sms_ok'] else 'no'}" for r in rows]
    return "\r\n".join(lines) + "\r\n"


class AudienceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "engage.db")
        self.rows = people(3000)

    def tearDown(self):
        self.dir.cleanup()

    def _setup(self, eng):
        eng.create_org("acme", A)  # customers and groups belong to an org
        eng.add_column(A, "city", "string")
        eng.add_column(A, "days", "int")
        rep = eng.import_csv(A, as_csv(self.rows))
        self.assertEqual(rep["inserted"], len(self.rows))
        self.assertEqual(rep["bad_rows"], 0)

    def test_filter_upload_resolve_match_python(self):
        with engage.Engine(self.path) as eng:
            self._setup(eng)
            pune = eng.create_group(A, "pune-lapsed", filter="city == 'Pune' and days > 30")
            upload_ids = [r["id"] for r in self.rows[:500]]
            vip = eng.create_group(A, "vip", ids=upload_ids)
            want_pune = {r["id"] for r in self.rows if r["city"] == "Pune" and r["days"] > 30}
            self.assertEqual(eng.group_count(A, pune), len(want_pune))
            self.assertEqual(eng.group_count(A, vip), 500)
            res = eng.resolve(A, [pune], exclude=[vip], channels=["sms"], split_seed=7, control_percent=10)
            audience = want_pune - set(upload_ids)
            reachable = {r["id"] for r in self.rows if r["sms_ok"]} & audience
            self.assertEqual(res["reach"].get("sms", 0), len(reachable))
            self.assertEqual(res["all"], len(reachable))
            self.assertEqual(res["test"] + res["control"], res["all"])
            self.assertTrue(0 < res["control"] < res["all"] * 0.2)
            again = eng.resolve(A, [pune], exclude=[vip], channels=["sms"], split_seed=7, control_percent=10)
            self.assertEqual(again, res)  # the same seed gives the same split
        with engage.Engine(self.path) as eng:  # everything persisted
            self.assertEqual(eng.customer_count(A), len(self.rows))

    def test_bad_input_is_reported_and_changes_nothing(self):
        with engage.Engine() as eng:
            self._setup(eng)
            with self.assertRaises(engage.EngageError) as cm:
                eng.import_csv(A, "id,days\r\nX1,12a\r\n")
            self.assertEqual(cm.exception.detail, "2:2")
            self.assertEqual(eng.customer_count(A), len(self.rows))
            with self.assertRaises(engage.EngageError) as cm:
                eng.create_group(A, "bad", filter="city == 'Pune' and")
            self.assertEqual(cm.exception.code, engage.ENG_EPARSE)
            with self.assertRaises(engage.EngageError) as cm:
                eng.create_group(A, "bad", filter="cty == 'Pune'")
            self.assertIn("did you mean 'city'", cm.exception.message)
            with self.assertRaises(ValueError):
                eng.resolve(A, [1], channels=["pigeon"])
            with self.assertRaises(engage.EngageError) as cm:  # denied by default
                eng.customer_count("nobody")
            self.assertEqual(cm.exception.code, -15)


if __name__ == "__main__":
    unittest.main()
