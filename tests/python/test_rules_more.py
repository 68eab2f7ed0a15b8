"""Rules beyond text and one row: column-batch evaluation (checked row by row against
Rule.evaluate and a predicate written here, with nulls and a prior selection), the
builder (the same answers as the equivalent text), serialised and stored rules, and bad
input raising the binding's exceptions with the field named."""
import datetime
import random
import unittest
from decimal import Decimal

import engage
from engage.rules import RuleBuilder

FIELDS = [("age", "int"), ("city", "string"), ("spend", "decimal"), ("vip", "bool"), ("joined", "date"),
          ("tags", "string_list"), ("seen", "timestamp")]
TEXT = ("age >= 18 and (city in ('Pune', 'Delhi') or spend > 99.5) and not vip "
        "and joined >= date('2025-06-01') and tags contains 'new'")


def table(n, seed=1):
    rnd = random.Random(seed)

    def maybe(v):
        return None if rnd.random() < 0.1 else v
    return [{"age": maybe(rnd.randrange(40)), "city": maybe(rnd.choice(["Pune", "Delhi", "Goa"])),
             "spend": maybe(Decimal(rnd.randrange(20000)) / 100), "vip": maybe(rnd.random() < 0.2),
             "joined": maybe(datetime.date(2025, rnd.randrange(1, 13), 1)),
             "tags": maybe(rnd.sample(["new", "old", "x"], rnd.randrange(3))), "seen": rnd.randrange(10 ** 12)}
            for _ in range(n)]


def by_hand(r):
    """TEXT's selection in Python, for rows without nulls (None: not decided here)."""
    if any(r[f] is None for f, _ in FIELDS):
        return None
    return (r["age"] >= 18 and (r["city"] in ("Pune", "Delhi") or r["spend"] > Decimal("99.5"))
            and not r["vip"] and r["joined"] >= datetime.date(2025, 6, 1) and "new" in r["tags"])


class Batch(unittest.TestCase):
    def test_batch_agrees_with_rows(self):
        rows = table(500)
        cols = {f: [r[f] for r in rows] for f, _ in FIELDS}
        with engage.Engine() as eng, engage.Rule(eng, TEXT, FIELDS) as rule:
            got = rule.evaluate_batch(cols)
            self.assertEqual(len(got), len(rows))
            for r, g in zip(rows, got):
                self.assertEqual(g, rule.evaluate(r) is True, r)
                want = by_hand(r)
                if want is not None:
                    self.assertEqual(g, want, r)
            self.assertTrue(any(got) and not all(got))
            where = [i % 2 == 0 for i in range(len(rows))]
            self.assertEqual(rule.evaluate_batch(cols, where=where), [g and w for g, w in zip(got, where)])
            self.assertEqual(rule.evaluate_batch({f: [] for f, _ in FIELDS}), [])

    def test_bad_columns_name_the_field(self):
        with engage.Engine() as eng, engage.Rule(eng, "age > 1 and city == 'x'", FIELDS) as rule:
            with self.assertRaises(engage.InvalidArgument) as cm:
                rule.evaluate_batch({"age": [1, 2], "city": ["x"]})
            self.assertEqual(cm.exception.detail, "columns['city']")
            with self.assertRaises(engage.InvalidArgument) as cm:
                rule.evaluate_batch({"age": [5, 6]})  # the rule uses city: missing column
            self.assertIn("city", cm.exception.detail)
            with self.assertRaises(engage.InvalidArgument) as cm:
                rule.evaluate_batch({"age": [5], "nope": [1]})
            self.assertEqual(cm.exception.detail, "columns['nope']")


class Builder(unittest.TestCase):
    def test_builder_equals_text(self):
        rows = table(300, seed=2)
        with engage.Engine() as eng:
            with RuleBuilder(eng) as b:
                b.add("city", "in", ["Pune", "Delhi"]).add("spend", "between", [Decimal("10"), Decimal("150.5")])
                b.add("vip", "==", True, exclude=True)
                b.group().add("tags", "contains", "old").add("age", "is_null")
                built = b.compile(FIELDS)
            text = engage.Rule(eng, "(city in ('Pune', 'Delhi') and spend between 10 and 150.5 and not (vip == true))"
                                    " or (tags contains 'old' and age is null)", FIELDS)
            for r in rows:
                self.assertEqual(built.evaluate(r), text.evaluate(r), r)
            with RuleBuilder(eng) as b:  # an empty builder selects everyone
                self.assertEqual(b.compile(FIELDS).evaluate(rows[0]), True)

    def test_builder_refuses_bad_conditions(self):
        with engage.Engine() as eng, RuleBuilder(eng) as b:
            with self.assertRaises(engage.InvalidArgument):
                b.add("age", "between", [1])  # between takes two values
            with self.assertRaises(engage.InvalidArgument):
                b.add("9bad", "==", 1)
            b.add("age", ">", 3)
            with self.assertRaises(engage.InvalidArgument) as cm:
                b.compile([("city", "string")])  # unknown field at compile time
            self.assertIn("age", cm.exception.message)
            self.assertEqual(b.compile(FIELDS).text(), "age > 3")  # the refused adds left nothing


class Stored(unittest.TestCase):
    def test_serialise_save_and_load(self):
        rows = table(100, seed=3)
        with engage.Engine() as eng, engage.Rule(eng, TEXT, FIELDS) as rule:
            blob = rule.serialize()
            again = engage.Rule.from_bytes(eng, blob, FIELDS)
            self.assertEqual(again.text(), rule.text())
            self.assertEqual([again.evaluate(r) for r in rows], [rule.evaluate(r) for r in rows])
            rule.save("adults")
            loaded = engage.Rule.load(eng, "adults", FIELDS)
            self.assertEqual(loaded.text(), rule.text())
            with self.assertRaises(engage.NotFound):
                engage.Rule.load(eng, "nope", FIELDS)
            with self.assertRaises(engage.InvalidArgument) as cm:  # age is a string in this schema
                engage.Rule.from_bytes(eng, blob, [("age", "string")] + FIELDS[1:])
            self.assertEqual(cm.exception.detail, "age")
            bad = bytearray(blob)
            bad[len(bad) // 2] ^= 0xFF
            with self.assertRaises(engage.StorageError) as cm:
                engage.Rule.from_bytes(eng, bytes(bad), FIELDS)
            self.assertEqual(cm.exception.code, engage.ENG_ECORRUPT)


if __name__ == "__main__":
    unittest.main()
