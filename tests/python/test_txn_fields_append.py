"""Custom transaction fields through Engine.append_transactions (eng_txn_batch's nfields,
field_names, field_values): each row's "fields" dict is stored as the CSV import stores the same
columns (the customer's export shows them typed), a row without a field holds null, and an
undeclared field raises InvalidArgument naming its place. The binding dropped "fields" without a word
(qa9u): a goal over a custom field then never matched appended purchases."""
import unittest

import engage

T0 = 1767225600000


class TxnFieldsAppend(unittest.TestCase):
    def setUp(self):
        self.eng = engage.Engine()
        self.eng.create_org("o", "admin")
        self.eng.import_csv("admin", "id,contact.email\nA,a@x.in\n")
        self.eng.add_transaction_field("o", "qty", "int")
        self.eng.add_transaction_field("o", "src", "string")

    def tearDown(self):
        self.eng.close()

    def test_fields_stored_like_the_csv_import(self):
        self.eng.append_transactions("o", [
            {"id": "a1", "customer": "A", "time": T0, "amount": 5, "fields": {"qty": 3, "src": "app"}},
            {"id": "a2", "customer": "A", "time": T0 + 1, "amount": 6, "fields": {"qty": None}},
            {"id": "a3", "customer": "A", "time": T0 + 2, "amount": 7}])
        self.eng.import_transactions_csv("o", "id,customer,time,amount,qty,src\n"
                                              "c1,A,2026-01-01T00:00:00.003Z,5,3,app\n")
        got = {t["id"]: t["fields"] for t in self.eng.export_customer("admin", "A")["transactions"]}
        self.assertEqual(got, {"a1": {"qty": 3, "src": "app"}, "a2": {}, "a3": {}, "c1": {"qty": 3, "src": "app"}})

    def test_undeclared_field_refused(self):
        with self.assertRaises(engage.EngageError) as cm:
            self.eng.append_transactions("o", [{"id": "b1", "customer": "A", "time": T0, "amount": 1,
                                                "fields": {"colour": "red"}}])
        self.assertEqual(cm.exception.detail, "batch.field_names[0]")  # named by place, not by the caller's text
        self.assertEqual(list(self.eng.transactions("o")), [])


class AmountPlaces(unittest.TestCase):
    def test_more_than_four_decimals_refused_as_the_csv_does(self):
        """An amount is kept in 10^-4 units: append_transactions rounded 0.00005 to 0 and 1.23456 to
        1.2346 without a word, where the CSV import refuses "more than 4 decimals"."""
        with engage.Engine() as eng:
            eng.create_org("o", "admin")
            for bad in ("0.00005", "1.23456", 1e-5):
                with self.assertRaises(engage.InvalidArgument) as cm:
                    eng.append_transactions("o", [{"id": "ok", "customer": "A", "time": T0, "amount": 1},
                                                  {"id": "x", "customer": "A", "time": T0, "amount": bad}])
                self.assertEqual(cm.exception.detail, "txns[1].amount")
                self.assertNotIn(str(bad), str(cm.exception))
            self.assertEqual(list(eng.transactions("o")), [])
            eng.append_transactions("o", [{"id": "y", "customer": "A", "time": T0, "amount": "1.2300000"}])
            self.assertEqual([t["amount"] for t in eng.transactions("o")], [engage_decimal("1.23")])


def engage_decimal(s):
    from decimal import Decimal
    return Decimal(s)


if __name__ == "__main__":
    unittest.main()
