"""Child objects after Engine.close() (engage/engine.h, "Lifetime": children keep their engine
alive, which suits garbage-collected bindings). A report's figures, export and JSON, and a rule's
evaluation and serialized bytes, work the same after the engine is closed as before; then the
child's own close ends it. Report.export() and Rule.serialize() raised "the engine is closed"
after the library had handed them their text (which then leaked): they freed it through the
closed Python engine object instead of the C engine their handle keeps alive (qa9u)."""
import unittest
from decimal import Decimal

import engage

T0 = 1767225600000


class ChildrenAfterClose(unittest.TestCase):
    def test_report_and_rule_outlive_the_engine(self):
        eng = engage.Engine()
        touches = [{"customer": 0, "message": 1, "channel": "sms", "status": "sent", "time": T0}]
        txns = [{"customer": 0, "time": T0 + 1, "amount": Decimal("1.50")}]
        rep = eng.measure_campaign(touches, txns, messages=[1], n_customers=2, start=T0, end=T0 + engage.DAY)
        rule = engage.Rule(eng, "amount > 1", [("amount", "decimal")])
        want = (rep.total(), rep.export("json"), rep.export("csv"), rule.serialize(),
                rule.evaluate({"amount": Decimal("2")}))
        eng.close()
        got = (rep.total(), rep.export("json"), rep.export("csv"), rule.serialize(),
               rule.evaluate({"amount": Decimal("2")}))
        self.assertEqual(got, want)
        with self.assertRaises(engage.EngageError) as cm:  # the engine itself is closed
            eng.info()
        self.assertEqual(cm.exception.code, engage.ENG_EMISUSE if hasattr(engage, "ENG_EMISUSE") else -6)
        rep.close()
        rule.close()
        with self.assertRaises(engage.EngageError):
            rep.total()


if __name__ == "__main__":
    unittest.main()
