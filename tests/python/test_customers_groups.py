"""Customers and groups beyond the CSV import, from Python: the id kind, upserts read back value
by value, reachability, compaction (dense ids kept), uploaded/combined groups checked against
set arithmetic written here, frozen audiences, test counts, erasure by CSV; bad input raises
the binding's exceptions with the library's field path or line:column."""
import io
import unittest

import engage

N = 60


def rows():
    return [{"id": f"C{i}", "contact.sms": f"+9198{i:08d}", "consent.sms": "yes" if i % 3 else "no",
             "tier": ["gold", "silver", None][i % 3], "spend": f"{i}.25"} for i in range(N)]


class Customers(unittest.TestCase):
    def setUp(self):
        self.eng = engage.Engine()
        self.eng.create_org("acme", "admin")
        self.eng.put_actor("admin", "asha", ["author"])
        self.eng.add_column("admin", "tier", "string")
        self.eng.add_column("admin", "spend", "decimal")

    def tearDown(self):
        self.eng.close()

    def test_upsert_reads_back_and_compaction_keeps_ids(self):
        eng = self.eng
        rep = eng.upsert_customers("admin", rows())
        self.assertEqual((rep["rows"], rep["inserted"]), (N, N))
        ids = {f"C{i}": eng.find_customer("admin", f"C{i}") for i in range(N)}
        self.assertEqual(sorted(ids.values()), list(range(N)))
        self.assertIsNone(eng.find_customer("admin", "nobody"))
        for r in rows():
            d = ids[r["id"]]
            self.assertEqual(eng.customer_value("admin", d, "id"), r["id"])
            self.assertEqual(eng.customer_value("admin", d, "tier"), r["tier"])
            self.assertEqual(eng.customer_value("admin", d, "contact.sms"), r["contact.sms"])
            self.assertEqual(eng.reachable("admin", d, "sms"), r["consent.sms"] == "yes")
            self.assertFalse(eng.reachable("admin", d, "email"))
        self.assertEqual(eng.customer_value("admin", ids["C7"], "spend"), "7.25")
        self.assertGreater(eng.customers_memory("admin"), 0)
        # An update changes only the columns given.
        eng.upsert_customers("admin", [{"id": "C1", "tier": "bronze"}])
        self.assertEqual(eng.customer_value("admin", ids["C1"], "tier"), "bronze")
        self.assertEqual(eng.customer_value("admin", ids["C1"], "spend"), "1.25")
        eng.compact_customers("admin")
        self.assertEqual({k: eng.find_customer("admin", k) for k in ids}, ids)
        self.assertEqual(eng.customer_value("admin", ids["C1"], "tier"), "bronze")

    def test_bad_input_names_where(self):
        eng = self.eng
        with self.assertRaises(engage.InvalidArgument) as cm:
            eng.upsert_customers("admin", [{"id": "C1"}, {"id": "C2", "contact.sms": "not a phone"}])
        self.assertTrue(cm.exception.detail.startswith("3:"), cm.exception.detail)  # row 1 is line 3
        self.assertEqual(eng.customer_count("admin"), 0)  # all or nothing
        with self.assertRaises(engage.Denied):
            eng.upsert_customers("asha", rows())
        with self.assertRaises(engage.NotFound):
            eng.customer_value("admin", 0, "tier")
        eng.upsert_customers("admin", rows())
        with self.assertRaises(engage.NotFound):
            eng.customer_value("admin", 0, "no_such_column")
        with self.assertRaises(engage.WrongState):
            eng.set_id_kind("admin", "int64")  # customers exist

    def test_int64_ids(self):
        eng = self.eng
        eng.set_id_kind("admin", "int64")
        eng.upsert_customers("admin", [{"id": 9007199254740993}, {"id": -5}])
        self.assertEqual(eng.external_id("admin", eng.find_customer("admin", "-5")), "-5")
        with self.assertRaises(engage.InvalidArgument):
            eng.upsert_customers("admin", [{"id": "C1"}])

    def test_groups_follow_set_arithmetic(self):
        eng = self.eng
        eng.upsert_customers("admin", rows())
        d = {f"C{i}": eng.find_customer("admin", f"C{i}") for i in range(N)}
        a = eng.create_group("asha", "a")
        rep = eng.upload_ids("asha", a, [f"C{i}" for i in range(0, 30)])
        self.assertEqual(rep["inserted"], 30)
        eng.upload_ids("asha", a, [f"C{i}" for i in range(30, 40)], mode="append")
        b = eng.create_group("asha", "b", ids=[f"C{i}" for i in range(20, 50)])
        gold = eng.create_group("asha", "gold", filter='tier == "gold"')
        ab = eng.create_combined_group("asha", "a_and_b", [a, b], op="intersect")
        u = eng.create_combined_group("asha", "a_or_b_not_gold", [a, b], exclude=[gold])
        self.assertEqual(eng.find_group("asha", "a_and_b"), ab)
        self.assertIsNone(eng.find_group("asha", "zzz"))
        self.assertEqual([eng.group_kind("asha", g) for g in (a, gold, ab)], ["uploaded", "filter", "combined"])
        sa, sb = set(range(40)), set(range(20, 50))
        sgold = {i for i in range(N) if i % 3 == 0}

        def members(group):
            with eng.audience("asha", [group]) as aud:
                return set(aud.ids("all"))
        self.assertEqual(members("a_and_b"), {d[f"C{i}"] for i in sa & sb})
        self.assertEqual(members("a_or_b_not_gold"), {d[f"C{i}"] for i in (sa | sb) - sgold})
        self.assertEqual(eng.group_count("asha", ab), len(sa & sb))
        self.assertEqual(eng.audience_test_count("asha", ["a_or_b_not_gold"]), len((sa | sb) - sgold))
        eng.set_combined_group("asha", ab, [a], exclude=[b])
        self.assertEqual(members("a_and_b"), {d[f"C{i}"] for i in sa - sb})
        eng.set_combined_group("asha", ab, [u])
        with self.assertRaises(engage.EngageError) as cm:
            eng.set_combined_group("asha", u, [ab])  # u would contain itself
        self.assertEqual(cm.exception.code, engage.ENG_ECYCLE)
        self.assertEqual(members("a_or_b_not_gold"), {d[f"C{i}"] for i in (sa | sb) - sgold})  # unchanged
        with self.assertRaises(engage.WrongState):
            eng.delete_group("asha", a)  # still referenced
        with self.assertRaises(engage.NotFound):
            eng.create_combined_group("asha", "bad", [a, 999])
        with self.assertRaises(engage.NotFound) as cm:
            eng.upload_ids("asha", b, ["C1", "nobody"])
        self.assertEqual(cm.exception.detail, "3:1")
        self.assertEqual(eng.group_count("asha", b), len(sb))  # nothing uploaded
        eng.delete_group("asha", ab)
        eng.delete_group("asha", u)
        self.assertIsNone(eng.find_group("asha", "a_or_b_not_gold"))
        with self.assertRaises(engage.NotFound):
            eng.group_kind("asha", u)

    def test_frozen_audience_round_trips(self):
        eng = self.eng
        eng.upsert_customers("admin", rows())
        eng.create_group("asha", "all", ids=[f"C{i}" for i in range(N)])
        with eng.audience("asha", ["all"], channels=["sms"], control_percent=20, split_seed=7) as aud:
            want = (list(aud.ids("test")), list(aud.ids("control")), aud.hash())
            aud.freeze("asha", "c/1/m/1/v1")
        self.assertEqual(eng.audience_test_count("asha", ["all"], channels=["sms"], control_percent=20,
                                                 split_seed=7), len(want[0]))
        eng.upsert_customers("admin", [{"id": "C0", "consent.sms": "yes"}])  # the live audience moves on
        with eng.load_frozen_audience("asha", "c/1/m/1/v1") as aud:
            self.assertEqual((list(aud.ids("test")), list(aud.ids("control")), aud.hash()), want)
        with self.assertRaises(engage.NotFound):
            eng.load_frozen_audience("asha", "nope")

    def test_erase_by_csv(self):
        eng = self.eng
        eng.upsert_customers("admin", rows())
        rep = eng.erase_customers_csv("admin", "id,reason\nC1,asked\nC2,asked\nC999,asked\n")
        self.assertEqual(rep, {"requested": 3, "erased": 2, "not_found": 1})
        with self.assertRaises(engage.InvalidArgument) as cm:
            eng.erase_customers_csv("admin", 'id\n"C3\n')
        self.assertRegex(cm.exception.detail, r"^\d+:\d+$")
        self.assertEqual(eng.customer_value("admin", eng.find_customer("admin", "C3"), "tier"), "gold")  # kept

    def test_import_from_a_reader_that_raises(self):
        class Broken(io.RawIOBase):
            def read(self, n=-1):
                raise OSError("disk gone")
        with self.assertRaises(engage.EngageError) as cm:
            self.eng.import_csv("admin", Broken())
        self.assertIsInstance(cm.exception.__cause__, OSError)
        self.assertEqual(self.eng.customer_count("admin"), 0)


if __name__ == "__main__":
    unittest.main()
