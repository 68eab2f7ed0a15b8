"""Rules compiled and evaluated from Python (checked against the same predicate written in
Python), and privacy: export and erasure of one customer."""
import datetime
import unittest

import engage


class Rules(unittest.TestCase):
    def test_rule_agrees_with_python(self):
        fields = [("age", "int"), ("city", "string"), ("spend", "decimal"), ("vip", "bool"),
                  ("joined", "date"), ("tags", "string_list")]
        with engage.Engine() as eng, engage.Rule(
                eng, "age >= 18 and (city in ('Pune', 'Delhi') or spend > 99.5) and not vip "
                     'and joined >= date("2025-06-01")', fields) as rule:
            self.assertIn("age", rule.text())
            for i in range(200):
                row = {"age": i % 40, "city": ["Pune", "Delhi", "Goa"][i % 3], "spend": (i * 7) % 150 + 0.25,
                       "vip": i % 5 == 0, "joined": datetime.date(2025, 1 + i % 12, 1), "tags": ["a"]}
                want = (row["age"] >= 18 and (row["city"] in ("Pune", "Delhi") or row["spend"] > 99.5)
                        and not row["vip"] and row["joined"] >= datetime.date(2025, 6, 1))
                self.assertEqual(rule.evaluate(row), want, row)
            row["age"] = None  # NULL propagates like SQL: unknown, not false
            row["vip"] = False
            row["joined"] = datetime.date(2025, 7, 1)
            self.assertIsNone(rule.evaluate(row))

    def test_syntax_error_has_line_and_column(self):
        with engage.Engine() as eng:
            with self.assertRaises(engage.InvalidArgument) as cm:
                engage.Rule(eng, "age >=\n  and city = 'x'", [("age", "int"), ("city", "string")])
            self.assertRegex(cm.exception.detail, r"^2:\d+")
            with self.assertRaises(engage.InvalidArgument) as cm:
                engage.Rule(eng, "agee > 1", [("age", "int")])
            self.assertIn("age", cm.exception.message)  # did you mean


class Privacy(unittest.TestCase):
    def test_export_then_erase(self):
        with engage.Engine() as eng:
            eng.create_org("acme", "admin")
            eng.import_csv("admin", "id,contact.email,consent.email\nC1,asha@example.in,yes\nC2,ravi@example.in,yes\n")
            eng.append_transactions("acme", [{"id": "T1", "customer": "C1", "time": 1767225600000,
                                              "amount": "12.50"}])
            data = eng.export_customer("admin", "C1")
            text = repr(data)
            self.assertIn("asha@example.in", text)
            self.assertIn("T1", text)
            eng.erase_customer("admin", "C1")
            try:
                after = repr(eng.export_customer("admin", "C1"))
                self.assertNotIn("asha@example.in", after)
            except engage.NotFound:
                pass
            self.assertEqual(eng.erase_customers("admin", ["C2", "C9"]),
                             {"requested": 2, "erased": 1, "not_found": 1})
            self.assertEqual(eng.customer_count("admin"), 2)  # tombstones keep the counts

    def test_export_has_no_field_the_row_lacks(self):
        # a purchase without `country`, stored after a sealed one with it: the export showed it
        # with the sealed row's country (the scan's stale presence bits; docs/attribution.md)
        with engage.Engine() as eng:
            eng.create_org("acme", "admin")
            eng.add_transaction_field("acme", "country", "string")
            eng.import_csv("admin", "id\nC1\n")
            eng.import_transactions_csv("acme", "id,customer,time,amount,country\nA,C1,1000,1,France\n")
            eng.compact_events()
            eng.import_transactions_csv("acme", "id,customer,time,amount\nB,C1,1001,1\n")
            fields = {t["id"]: t["fields"] for t in eng.export_customer("admin", "C1")["transactions"]}
            self.assertEqual(fields, {"A": {"country": "France"}, "B": {}})


if __name__ == "__main__":
    unittest.main()
