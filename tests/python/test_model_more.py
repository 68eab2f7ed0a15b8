"""The model's remaining calls from Python: units and access checks, approving and rejecting a
whole campaign, the lifecycle table, the split seed (the frozen audience's split is the one
resolved here with it), rule schemas (a bad variant rule reported at its field path) and an
audience counter written in Python (its answer used by validation; raising becomes a reported
failure, not a crash)."""
import unittest

import engage

T0 = 1767225600000
N = 120
CSV = "id,contact.sms,consent.sms\n" + "".join(f"C{i},+9198{i:08d},yes\n" for i in range(N))


def org(eng, **settings):
    eng.create_org("acme", "admin", **settings)
    eng.put_actor("admin", "asha", ["author"])
    eng.put_actor("admin", "ravi", ["approver"])
    eng.adjust_credits("admin", 10 ** 6)
    eng.import_csv("admin", CSV)
    eng.create_group("admin", "all", ids=[f"C{i}" for i in range(N)])


def sms(body="Hi {{optout}}", **kw):
    return dict(include=["all"], creatives=[{"channel": "sms", "body": body}], send_at=T0 + 3 * engage.DAY, **kw)


class Index:
    """An integer that is not an int (as numpy's are): it has __index__."""

    def __init__(self, n):
        self.n = n

    def __index__(self):
        return self.n


class CheckedInts(unittest.TestCase):
    def test_every_struct_int_field_takes_only_what_fits(self):
        """Every integer field of every C struct the binding declares: its bounds are stored and read back
        as given (so the check is not narrower than the field), one past either bound, a float and a string
        are InvalidArgument naming the struct and field (ctypes would mask the first two to a wrong value)."""
        from engage import _native as n
        structs = [c for c in vars(n).values() if isinstance(c, type) and issubclass(c, n._Checked) and c is not n._Checked]
        self.assertGreater(len(structs), 40)
        fields = 0
        for cls in structs:
            for name, (lo, hi) in cls._ints_.items():
                x = cls()
                for v in (lo, hi, Index(hi)):
                    setattr(x, name, v)
                    self.assertEqual(getattr(x, name), int(v.n if isinstance(v, Index) else v), (cls, name))
                for bad in (hi + 1, lo - 1, 1.5, "3"):
                    with self.assertRaises(engage.InvalidArgument) as cm:
                        setattr(x, name, bad)
                    self.assertEqual(cm.exception.detail, f"{cls._c_name_}.{name}")
                self.assertEqual(getattr(x, name), hi)  # a refusal leaves the field as it was
                fields += 1
        self.assertGreater(fields, 200)

    def test_a_masked_value_no_longer_passes(self):
        """control_percent=2**32 + 10 was masked to 10 and made a campaign with a 10 % control group."""
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng)
            for bad, field in ((2 ** 32 + 10, "control_percent"), (T0 + 1.5, "start")):
                args = {"control_percent": 10, "start": T0 + engage.DAY}
                args[field] = bad
                with self.assertRaises(engage.InvalidArgument) as cm:
                    eng.create_campaign("asha", "C", args["start"], T0 + 9 * engage.DAY,
                                        control_percent=args["control_percent"])
                self.assertEqual(cm.exception.detail, f"eng_campaign_spec.{field}")
            self.assertEqual(eng.create_campaign("asha", "C", T0 + engage.DAY, T0 + 9 * engage.DAY), 1)


class Access(unittest.TestCase):
    def test_units_and_may(self):
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng)
            eng.add_unit("admin", "north")
            eng.add_unit("admin", "pune", parent="north")
            with self.assertRaises(engage.AlreadyExists) as cm:
                eng.add_unit("admin", "north")
            self.assertEqual(cm.exception.detail, "unit.id")
            with self.assertRaises(engage.NotFound) as cm:
                eng.add_unit("admin", "x", parent="south")
            self.assertEqual(cm.exception.detail, "unit.parent")
            with self.assertRaises(engage.Denied):
                eng.add_unit("asha", "east")
            eng.put_actor("admin", "nina", ["author"], scope="units", units=["north"])
            # Each op against the roles as docs/api-conventions (access.h) lists them.
            self.assertEqual({op: eng.may("asha", op) for op in engage._admin.OPS},
                             {"read": True, "edit": True, "approve": False, "execute": False, "admin": False})
            self.assertEqual({op: eng.may("ravi", op) for op in engage._admin.OPS},
                             {"read": True, "edit": False, "approve": True, "execute": False, "admin": False})
            self.assertTrue(eng.may("admin", "admin"))
            self.assertTrue(eng.may("nina", "edit", "pune"))  # a unit under hers
            self.assertFalse(eng.may("nina", "edit"))  # the org itself
            self.assertFalse(eng.may("nobody", "read"))
            with self.assertRaises(engage.InvalidArgument):
                eng.may("admin", 99)

    def test_lifecycle_table(self):
        self.assertEqual(engage.next_state("draft", "submit"), "awaiting_approval")
        self.assertEqual(engage.next_state("awaiting_approval", "approve"), "approved")
        self.assertEqual(engage.next_state("awaiting_approval", "reject"), "rejected")
        self.assertIsNone(engage.next_state("draft", "approve"))
        with self.assertRaises(engage.InvalidArgument) as cm:
            engage.next_state("draft", "fly")
        self.assertEqual(cm.exception.detail, "action")


class CampaignApproval(unittest.TestCase):
    def test_approve_and_reject_a_whole_campaign(self):
        events = []
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng)
            eng.on_model_event(events.append)
            cid = eng.create_campaign("asha", "Spring", T0 + engage.DAY, T0 + 20 * engage.DAY, control_percent=10)
            m1 = eng.create_message("asha", cid, "one", **sms())
            m2 = eng.create_message("asha", cid, "two", **sms())
            m3 = eng.create_message("asha", cid, "draft stays", **sms())
            with self.assertRaises(engage.WrongState):
                eng.approve_campaign("ravi", cid)  # nothing awaits approval yet
            eng.submit("asha", m1)
            eng.submit("asha", m2)
            with self.assertRaises(engage.Denied):
                eng.approve_campaign("asha", cid)
            eng.approve_campaign("ravi", cid, "all good")
            states = [eng.message("ravi", m)["state"] for m in (m1, m2, m3)]
            self.assertEqual(states, ["approved", "approved", "draft"])
            self.assertEqual(eng.message("ravi", m1)["comment"], "all good")
            self.assertEqual([e["message"] for e in events if e["kind"] == "approved"], [m1, m2])
            # The split of the frozen audience is the one the split seed gives here.
            seed = engage.split_seed("acme", cid)
            with eng.message_audience("ravi", m1) as frozen, \
                    eng.audience("ravi", ["all"], split_seed=seed, control_percent=10) as live:
                self.assertEqual(list(frozen.ids("control")), list(live.ids("control")))
                self.assertEqual(list(frozen.ids("test")), list(live.ids("test")))
            self.assertNotEqual(engage.split_seed("acme", cid), engage.split_seed("acme", cid + 1))
            eng.submit("asha", m3)
            eng.reject_campaign("ravi", cid, "not now")
            self.assertEqual(eng.message("ravi", m3)["state"], "rejected")
            self.assertEqual(eng.message("ravi", m1)["state"], "approved")


class Schemas(unittest.TestCase):
    def test_variant_rule_checked_against_the_schema(self):
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng)
            cid = eng.create_campaign("asha", "S", T0 + engage.DAY, T0 + 20 * engage.DAY)
            variants = [{"dimension": "region", "rule": "cty == 'Pune'", "channel": "sms", "body": "Pune! {{optout}}"}]
            mid = eng.create_message("asha", cid, "v", strategy="personalization", variants=variants, **sms())
            with self.assertRaises(engage.ValidationError):  # the engine's customer columns have no cty
                eng.validate_message("asha", mid)
            eng.set_rule_schema("customer", [("cty", "string")])
            eng.validate_message("asha", mid)
            eng.set_rule_schema("customer", [("city", "string"), ("age", "int")])
            with self.assertRaises(engage.ValidationError) as cm:
                eng.validate_message("asha", mid)
            self.assertIn("message.variants[0].rule", cm.exception.paths())
            self.assertEqual(cm.exception.code_at("message.variants[0].rule"), engage.ENG_ETYPE)
            self.assertEqual(cm.exception.code_at("message.nothing"), 0)
            with self.assertRaises(engage.InvalidArgument) as cm:
                eng.set_rule_schema("customer", [("city", "string"), ("", "int")])
            self.assertEqual(cm.exception.detail, "fields[1].name")
            eng.set_rule_schema("customer", [("cty", "string")])  # the failed call changed nothing...
            with self.assertRaises(engage.InvalidArgument) as cm:
                eng.set_rule_schema("customer", [("cty", 99)])  # no such type
            self.assertEqual(cm.exception.detail, "fields[0].type")
            eng.validate_message("asha", mid)  # ...and neither did this one


class AudienceCounter(unittest.TestCase):
    def xengage(self, eng):
        cid = eng.create_campaign("asha", "X", T0 + engage.DAY, T0 + 30 * engage.DAY)
        return cid, eng.create_message("asha", cid, "x", strategy="xengage", channel_priority=["sms"],
                                       **sms(body="Hi {{optout}}"))

    def test_counter_in_python(self):
        queries = []
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng, xengage="unlocked")
            eng.adjust_credits("admin", 10 ** 9, account="xengage")
            cid, mid = self.xengage(eng)
            with self.assertRaises(engage.ValidationError) as cm:  # the engine's own count is under the minimum
                eng.validate_message("asha", mid)
            self.assertEqual(cm.exception.code_at("message.audience"), engage.ENG_ERANGE)
            eng.set_audience_counter(lambda q: queries.append(q) or 250000)
            eng.validate_message("asha", mid)
            self.assertEqual((queries[-1]["org"], queries[-1]["campaign"], queries[-1]["include"]),
                             ("acme", cid, ["all"]))
            eng.set_audience_counter(lambda q: 7)
            with self.assertRaises(engage.ValidationError) as cm:
                eng.validate_message("asha", mid)
            self.assertIn("has 7", dict((p, m) for _, p, m in cm.exception.items)["message.audience"])

            def broken(q):
                raise RuntimeError("CRM unreachable")
            eng.set_audience_counter(broken)
            with self.assertRaises(engage.ValidationError) as cm:
                eng.validate_message("asha", mid)
            self.assertIn("message.audience", cm.exception.paths())
            self.assertIsInstance(eng.callback_errors[-1], RuntimeError)
            eng.set_audience_counter(None)
            own = eng.audience_test_count("asha", ["all"], split_seed=engage.split_seed("acme", cid),
                                          control_percent=10)
            with self.assertRaises(engage.ValidationError) as cm:
                eng.validate_message("asha", mid)
            self.assertIn(f"has {own}", dict((p, m) for _, p, m in cm.exception.items)["message.audience"])

    def test_credit_cap(self):
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng, xengage="unlocked")
            cid, plain = self.xengage(eng)
            mid = eng.create_message("asha", cid, "x2", strategy="xengage", credit_cap=500, **sms(body="Hi {{optout}}"))
            self.assertEqual(eng.message("asha", mid)["credit_cap"], 500)
            self.assertEqual(eng.message("asha", plain)["credit_cap"], 0)
            with self.assertRaises(engage.ValidationError) as cm:
                eng.create_message("asha", cid, "y", strategy="xengage", credit_cap=-1, **sms(body="Hi {{optout}}"))
            self.assertIn("message.xengage.credit_cap", cm.exception.paths())

    def test_credits_are_whole_and_in_range(self):
        """Credits are int64 in the library; ctypes masks an int to the field's width and refuses a float with
        a bare TypeError. A host passing currency (0.03) or a value past int64 gets InvalidArgument naming the
        field, and nothing changes: before, 2**64 + 3 credits were adjusted by 3, a cap of 2**64 + 7 stored 7
        and a cost of 2**64 + 5 became 5."""
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng, xengage="unlocked", channel_costs={"sms": 3})
            cid, _ = self.xengage(eng)
            before = eng.credits("admin")
            for bad in (2 ** 64 + 3, -(2 ** 63) - 1, 1.0, True):
                with self.assertRaises(engage.InvalidArgument) as cm:
                    eng.adjust_credits("admin", bad)
                self.assertEqual(cm.exception.detail, "delta")
            eng.adjust_credits("admin", Index(2))  # any integer type (numpy's too): __index__
            self.assertEqual(eng.credits("admin"), before + 2)
            for bad in (2 ** 64 + 7, 0.5, False):
                with self.assertRaises(engage.InvalidArgument) as cm:
                    eng.create_message("asha", cid, "y", strategy="xengage", credit_cap=bad, **sms())
                self.assertEqual(cm.exception.detail, "message.xengage.credit_cap")
            for bad in (0.03, 2 ** 64 + 5, True):
                with self.assertRaises(engage.InvalidArgument) as cm:
                    eng.set_org_settings("admin", channel_costs={"email": bad})
                self.assertEqual(cm.exception.detail, "channel_costs['email']")
                with self.assertRaises(engage.InvalidArgument) as cm:
                    eng.set_org_settings("admin", xengage_cost=bad)
                self.assertEqual(cm.exception.detail, "xengage_cost")
            self.assertEqual(eng.org_settings("admin")["channel_costs"]["sms"], 3)
            self.assertEqual(eng.org_settings("admin")["channel_costs"]["email"], 1)  # the default, unchanged
            with self.assertRaises(engage.InvalidArgument) as cm:
                eng.measure_campaign([], [], messages=[1], n_customers=1, start=T0, end=T0 + 1,
                                     channel_costs={"sms": 2.5})
            self.assertEqual(cm.exception.detail, "channel_costs['sms']")

    def test_credits_per_unit(self):
        """What a unit of the org's currency is worth in credits, for X-Engage's value of a conversion
        (the run itself: dispatch_xengage's credits_per_unit): stored, read back, checked."""
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng, xengage="unlocked")
            cid, plain = self.xengage(eng)
            mid = eng.create_message("asha", cid, "x3", strategy="xengage", credits_per_unit=100, credit_cap=7,
                                     **sms(body="Hi {{optout}}"))
            self.assertEqual((eng.message("asha", mid)["credits_per_unit"], eng.message("asha", mid)["credit_cap"]),
                             (100.0, 7))
            self.assertEqual(eng.message("asha", plain)["credits_per_unit"], 0.0)
            for bad in (-1, float("nan"), float("inf")):
                with self.assertRaises(engage.ValidationError) as cm:
                    eng.create_message("asha", cid, "y", strategy="xengage", credits_per_unit=bad,
                                       **sms(body="Hi {{optout}}"))
                self.assertEqual(cm.exception.paths(), ["message.xengage.credits_per_unit"])
            with self.assertRaises(engage.ValidationError) as cm:  # X-Engage's own
                eng.create_message("asha", cid, "z", credits_per_unit=100, **sms(body="Hi {{optout}}"))
            self.assertIn("message.xengage.credits_per_unit", cm.exception.paths())


class Recurring(unittest.TestCase):
    def test_a_recurring_message_from_python(self):
        """A weekly offer (the Starbucks data's waves): the schedule round-trips, each occurrence is
        sent to every customer and charged, with its occurrence number in the touch log; bad
        schedules are refused at their field."""
        now, sent = [T0], []

        def transport(envs):
            sent.extend(envs)
            return ["accepted"] * len(envs)
        with engage.Engine(clock=lambda: now[0], transport=transport) as eng:
            org(eng, channel_costs={"sms": 2})
            cid = eng.create_campaign("asha", "Weekly", T0, T0 + 60 * engage.DAY, control_percent=0)
            first, until = T0 + 3 * engage.DAY, T0 + 20 * engage.DAY
            mid = eng.create_message("asha", cid, "w", repeat={"every": 1, "unit": "weeks", "until": until},
                                     **sms())
            m = eng.message("asha", mid)
            self.assertEqual((m["send_at"], m["repeat"]), (first, {"every": 1, "unit": "weeks", "until": until}))
            self.assertIsNone(eng.message("asha", eng.create_message("asha", cid, "once", **sms()))["repeat"])
            eng.submit("asha", mid)
            eng.approve("ravi", mid)
            before = eng.credits("admin")
            for week in range(4):  # the 4th (day 24) is past `until`
                now[0] = first + week * 7 * engage.DAY
                eng.run_due("admin")
            self.assertEqual(len(sent), 3 * N)
            self.assertEqual(before - eng.credits("admin"), 3 * N * 2)
            occ = [(t["occurrence"], t["time"]) for t in eng.touches("acme", eng.find_customer("admin", "C7"))
                   if t["status"] == "sent"]
            self.assertEqual(occ, [(k, first + k * 7 * engage.DAY) for k in range(3)])
            with self.assertRaises(engage.ValidationError) as cm:
                eng.create_message("asha", cid, "bad", repeat={"every": 0}, **sms())
            self.assertIn("message.schedule.every", cm.exception.paths())
            draft = eng.create_message("asha", cid, "ends first", repeat={"every": 2, "until": first - 1}, **sms())
            with self.assertRaises(engage.ValidationError) as cm:  # a draft may; approval may not
                eng.validate_message("asha", draft)
            self.assertIn("message.schedule.until", cm.exception.paths())
            with self.assertRaises(ValueError):
                eng.create_message("asha", cid, "bad", repeat={"every": 1, "unit": "months"}, **sms())
            with self.assertRaises(ValueError):
                eng.create_message("asha", cid, "bad", repeat={"every": 1}, include=["all"],
                                   creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])

    def test_every_occurrence_is_a_sending_in_the_report(self):
        """A weekly message sent three times to two customers: the report counts six sends and
        the ledger's six credits, two customers contacted, and a purchase one day after the third
        sending is a conversion of a 3-day goal from `sent` (its window opens at every occurrence)."""
        now = [T0]
        with engage.Engine(clock=lambda: now[0], transport=lambda envs: ["accepted"] * len(envs)) as eng:
            org(eng, channel_costs={"sms": 1}, conversion_goals=True)
            eng.create_group("admin", "pair", ids=["C1", "C2"])
            goal = {"event": "transaction", "condition": "amount > 10", "window_days": 3, "start_on": "sent"}
            cid = eng.create_campaign("asha", "Weekly", T0, T0 + 60 * engage.DAY, control_percent=0, goal=goal)
            first = T0 + 3 * engage.DAY
            mid = eng.create_message("asha", cid, "w", repeat={"every": 1, "unit": "weeks", "until": first + 15 * engage.DAY},
                                     **dict(sms(), include=["pair"]))
            eng.submit("asha", mid)
            eng.approve("ravi", mid)
            before = eng.credits("admin")
            for week in range(3):
                now[0] = first + week * 7 * engage.DAY
                eng.run_due("admin")
            charged = before - eng.credits("admin")
            late = first + 15 * engage.DAY  # a day after the third sending, two weeks after the first
            eng.append_transactions("acme", [{"id": "T1", "customer": "C1", "time": late, "amount": 25},
                                             {"id": "T2", "customer": "C2", "time": late + 3 * engage.DAY,
                                              "amount": 40}])  # four days after: outside every window
            now[0] = T0 + 30 * engage.DAY
            with eng.campaign_report("admin", cid) as r:
                total = r.total()
            self.assertEqual(charged, 6)
            self.assertEqual((total["sent"], total["credits_spent"], total["contacted"]), (6, charged, 2))
            self.assertEqual((total["responders"], total["conversions"]), (1, 1))
            self.assertEqual(total["responder_sales"], 25)
            # the column-fed call over the engine's own rows, their occurrences in them: the same
            rows = [t for c in ("C1", "C2") for t in eng.touches("acme", eng.find_customer("admin", c))]
            txns = [{"customer": eng.find_customer("admin", "C1"), "time": late, "amount": 25}]
            with eng.measure_campaign(rows, txns, messages=[mid], start=T0, end=T0 + 60 * engage.DAY, goal=goal,
                                      channel_costs={"sms": 1}, fields=[("amount", "decimal")]) as r:
                cols = r.total()
            self.assertEqual({k: cols[k] for k in ("sent", "credits_spent", "contacted", "conversions")},
                             {"sent": 6, "credits_spent": 6, "contacted": 2, "conversions": 1})


class ControlList(unittest.TestCase):
    def test_a_campaign_with_the_hosts_own_control_list(self):
        """control_group: the members of an uploaded group are each message's control part (the
        campaign's split not applied), read back with the campaign; the audience call takes it too."""
        with engage.Engine(clock=lambda: T0) as eng:
            org(eng)
            ctl = eng.create_group("admin", "holdout", ids=[f"C{i}" for i in range(0, N, 4)])
            cid = eng.create_campaign("asha", "Own experiment", T0, T0 + 30 * engage.DAY, control_group=ctl)
            self.assertEqual(eng.campaign("asha", cid)["control_group"], ctl)
            self.assertIsNone(eng.campaign("asha", eng.create_campaign("asha", "Split", T0, T0 + engage.DAY))
                              ["control_group"])
            mid = eng.create_message("asha", cid, "m", **sms())
            eng.submit("asha", mid)
            eng.approve("ravi", mid)
            want = sorted(eng.find_customer("admin", f"C{i}") for i in range(0, N, 4))
            with eng.message_audience("admin", mid) as a:
                self.assertEqual(sorted(a.ids("control")), want)
                self.assertEqual(a.count("test"), N - len(want))
            self.assertEqual(eng.resolve("admin", ["all"], control_group=ctl, control_percent=50)["control"],
                             len(want))
            with self.assertRaises(engage.ValidationError) as cm:
                eng.create_campaign("asha", "Bad", T0, T0 + engage.DAY, control_group=999999)
            self.assertEqual(cm.exception.paths(), ["campaign.control_group"])


if __name__ == "__main__":
    unittest.main()
