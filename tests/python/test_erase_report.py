"""A campaign report before and after erasing some of its customers (docs/privacy.md, "Erasure":
reports keep their totals). Every figure stays when the goal reads the transaction only; a goal
whose condition reads a customer attribute sees the erased customers' attributes as null (they
are erased), so their conversions leave the report, exactly as the same report over the data with
those attributes null (qa9u's engine-path runs against sqlite3 found both halves)."""
import unittest

import engage

T0, DAY = 1767225600000, engage.DAY


def play(goal_condition, erase):
    now = [T0]
    with engage.Engine(transport=lambda envs: ["accepted"] * len(envs), clock=lambda: now[0]) as eng:
        eng.create_org("o", "admin", conversion_goals=True, allow_self_approval=True)
        eng.adjust_credits("admin", 1000)
        eng.setup_unsubscribe("admin", "https://x.example/u", b"a-secret-of-16-bytes-or-more")
        eng.add_column("admin", "tier", "string")
        eng.import_csv("admin", "id,contact.email,consent.email,tier\n" +
                       "".join(f"C{i},c{i}@x.in,yes,{'gold' if i % 2 else ''}\n" for i in range(8)))
        eng.create_group("admin", "all", ids=[f"C{i}" for i in range(8)])
        goal = {"event": "transaction", "condition": goal_condition, "window_days": 5}
        cid = eng.create_campaign("admin", "c", T0, T0 + 10 * DAY, control_percent=0, goal=goal)
        mid = eng.create_message("admin", cid, "m", include=["all"], send_at=T0 + DAY,
                                 creatives=[{"channel": "email", "subject": "s", "body": "b {{unsubscribe}}"}])
        eng.submit("admin", mid)
        eng.approve("admin", mid)
        now[0] = T0 + DAY
        eng.run_due("admin")
        eng.append_transactions("o", [{"id": f"t{i}", "customer": f"C{i}", "time": T0 + 2 * DAY, "amount": 10 + i}
                                      for i in range(8)])
        if erase:
            eng.erase_customers("admin", ["C1", "C2"])
        now[0] = T0 + 11 * DAY
        with eng.campaign_report("admin", cid) as r:
            return r.total()


class EraseAndReport(unittest.TestCase):
    def test_transaction_goal_keeps_every_figure(self):
        self.assertEqual(play("amount > 0", True), play("amount > 0", False))

    def test_attribute_goal_loses_the_erased_customers_conversions(self):
        before, after = play('tier == "gold"', False), play('tier == "gold"', True)
        # the gold customers are C1, C3, C5, C7 (amounts 11, 13, 15, 17); C1 and C2 are erased
        self.assertEqual((before["responders"], before["responder_sales"]), (4, 11 + 13 + 15 + 17))
        self.assertEqual((after["responders"], after["responder_sales"]), (3, 13 + 15 + 17))
        self.assertEqual((after["contacted"], after["sent"]), (before["contacted"], before["sent"]))


if __name__ == "__main__":
    unittest.main()
