"""Areas some libraries have and others not yet: coupon pools, the global control group and
consent history. Each test runs when the loaded library exports the area (and is skipped,
saying so, when it does not); the binding raises ENG_EUNSUPPORTED for a missing area."""
import unittest

import engage
from engage import _native

T0 = 1767225600000
CSV = "id,contact.sms,consent.sms\n" + "".join(f"C{i},+9198{i:08d},yes\n" for i in range(40))


def org(eng):
    eng.create_org("acme", "admin", allow_self_approval=True)
    eng.import_csv("admin", CSV)
    eng.create_group("admin", "all", ids=[f"C{i}" for i in range(40)])


class NewerAreas(unittest.TestCase):
    def test_missing_area_is_unsupported(self):
        with engage.Engine() as eng:
            saved = set(_native.MISSING)
            _native.MISSING.add("eng_consent_history")
            try:
                with self.assertRaises(engage.EngageError) as cm:
                    list(eng.consent_history("admin", 0))
                self.assertEqual(cm.exception.code, engage.ENG_EUNSUPPORTED)
            finally:
                _native.MISSING.clear()
                _native.MISSING.update(saved)

    @unittest.skipUnless(_native.has("eng_coupon_pool_upload"), "this library has no coupon pools")
    def test_coupon_pool_one_code_per_customer(self):
        now = [T0]
        bodies = {}

        def transport(envs):
            bodies.update({e.customer: e.body for e in envs})
            return ["accepted"] * len(envs)
        with engage.Engine(transport=transport, clock=lambda: now[0]) as eng:
            org(eng)
            codes = [f"SPRING{i:03d}" for i in range(60)]
            with self.assertRaises(engage.InvalidArgument) as cm:
                eng.upload_coupons("admin", "spring", ["OK1", "has space"])
            self.assertEqual(cm.exception.detail, "codes[1]")
            eng.upload_coupons("admin", "spring", codes)
            self.assertEqual(eng.coupon_pool("admin", "spring")["size"], 60)
            cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
            eng.create_offer("admin", "SPRING", "Spring codes", T0 + engage.DAY, T0 + 9 * engage.DAY, pool="spring")
            mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY,
                                     offer_id="SPRING",
                                     creatives=[{"channel": "sms", "body": "Code {{coupon_code}} {{optout}}"}])
            eng.submit("admin", mid)
            eng.approve("admin", mid)
            now[0] = T0 + 2 * engage.DAY
            self.assertEqual(eng.run_due("admin")["accepted"], 40)
            held = {c: eng.coupon_of("admin", "spring", c)["code"] for c in range(40)}
            self.assertEqual(len(set(held.values())), 40)
            self.assertTrue(set(held.values()) <= set(codes))
            for c, body in bodies.items():
                self.assertIn(held[c], body)
            self.assertEqual(eng.coupon_pool("admin", "spring")["assigned"], 40)

    @unittest.skipUnless(_native.has("eng_coupon_pool_generate"), "this library has no coupon pools")
    def test_generated_pool(self):
        with engage.Engine() as eng:
            org(eng)
            eng.generate_coupons("admin", "gen", "NY-####-@@", b"0123456789abcdef")
            info = eng.coupon_pool("admin", "gen")
            self.assertEqual((info["kind"], info["size"], info["pattern"]), ("generated", 10 ** 4 * 26 ** 2,
                                                                              "NY-####-@@"))
            self.assertIsNone(eng.coupon_of("admin", "gen", 0))

    @unittest.skipUnless(_native.has("eng_global_control_set"), "this library has no global control group")
    def test_global_control(self):
        with engage.Engine() as eng:
            org(eng)
            self.assertEqual(eng.global_control("admin")["mode"], "off")
            eng.set_global_control("admin", "random", percent=25, seed=7)
            self.assertEqual(eng.global_control("admin"), {"mode": "random", "percent": 25, "seed": 7, "group": 0})
            members = [c for c in range(40) if eng.in_global_control("admin", c)]
            self.assertTrue(0 < len(members) < 40, members)
            with self.assertRaises(engage.InvalidArgument):
                eng.set_global_control("admin", "random", percent=90)

    @unittest.skipUnless(_native.has("eng_consent_history"), "this library has no consent history")
    def test_consent_history(self):
        now = [T0]
        with engage.Engine(clock=lambda: now[0]) as eng:
            org(eng)
            now[0] += engage.DAY
            eng.import_csv("admin", "id,consent.sms\nC1,no\n")
            changes = list(eng.consent_history("admin", 1))
            self.assertEqual([(c["channel"], c["kind"], c["given"], c["source"]) for c in changes][:2],
                             [("sms", "consent", True, "import"), ("sms", "consent", False, "import")])
            self.assertEqual(changes[1]["recorded"], T0 + engage.DAY)


    @unittest.skipUnless(_native.has("eng_dispatch_hooks_set"), "this library has no ad export")
    def test_ad_export_hook_and_identifiers(self):
        # An ad creative is reached only through X-Engage (a 100,000 test group): the end-to-end
        # run is the C suite's (dispatch_adexport); here the hook is set and cleared and the
        # identifiers are checked against hashlib.
        import hashlib
        with engage.Engine() as eng:
            eng.set_ad_export(lambda manifest, hashes: "accepted")
            eng.set_ad_export(None)
        mail = "User7@Example.com"
        self.assertEqual(engage.ad_identifier_hash("google", mail),
                         hashlib.sha256(mail.lower().encode()).hexdigest())
        self.assertEqual(engage.ad_identifier_hash("facebook", "+1 (234) 567-8901"),
                         hashlib.sha256(b"12345678901").hexdigest())
        with self.assertRaises(engage.InvalidArgument) as cm:
            engage.ad_identifier_hash("sms", mail)
        self.assertEqual(cm.exception.detail, "channel")

    @unittest.skipUnless(_native.has("eng_tiny_url_request_init"), "this library has no link shortener hook")
    def test_tiny_url_and_rate_limit(self):
        now = [T0]
        bodies, keys, asked = {}, {}, []

        def transport(envs):
            bodies.update({e.customer: e.body for e in envs})
            keys.update({e.customer: e.key for e in envs})
            return ["accepted"] * len(envs)

        def link(req):
            return "https://t.example/" + str(abs(hash(req["key"])) % 100000)

        def shorten(req):
            asked.append(req)
            return link(req)
        with engage.Engine(transport=transport, clock=lambda: now[0]) as eng:
            org(eng)
            eng.set_tiny_url(shorten)
            eng.set_rate_limits({"sms": 2000})
            eng.set_ad_export(None)  # the other hooks stay
            with self.assertRaises(engage.InvalidArgument) as cm:
                eng.set_rate_limits({"sms": -1})
            self.assertEqual(cm.exception.detail, "limits['sms']")
            cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
            mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY, tiny_url=True,
                                     creatives=[{"channel": "sms",
                                                 "body": 'Shop {{tiny_url | "https://acme.example/s"}} {{optout}}'}])
            eng.submit("admin", mid)
            eng.approve("admin", mid)
            now[0] = T0 + 2 * engage.DAY
            self.assertEqual(eng.run_due("admin")["accepted"], 40)
            self.assertEqual(len(asked), 40)
            self.assertEqual({q["url"] for q in asked}, {"https://acme.example/s"})
            for q in asked:
                self.assertEqual(q["channel"], "sms")
                self.assertIn(link(q), bodies[q["customer"]])
                self.assertEqual(keys[q["customer"]], q["key"])
            eng.set_tiny_url(None)
            eng.set_rate_limits(None)

    @unittest.skipUnless(_native.has("eng_points_award_init"), "this library has no points callback")
    def test_points_through_the_callback(self):
        now = [T0]
        awarded, asked = {}, []

        def transport(envs):
            return ["accepted"] * len(envs)

        def points(awards):
            asked.extend(awards)
            out = []
            for a in awards:  # de-duplicate by key, as a loyalty system should
                awarded.setdefault(a["key"], a)
                out.append("retry" if a["customer"] == 5 and a["attempt"] == 1 else "accepted")
            return out
        with engage.Engine(transport=transport, clock=lambda: now[0]) as eng:
            org(eng)
            cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
            mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY, points=25,
                                     points_expiry_days=10, creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            eng.submit("admin", mid)
            eng.approve("admin", mid)
            now[0] = T0 + 2 * engage.DAY
            eng.run_due("admin")
            self.assertEqual(eng.execution("admin", mid)["state"], "refused")  # no callback set
            mid = eng.create_message("admin", cid, "M2", include=["all"], send_at=T0 + 3 * engage.DAY, points=25,
                                     points_expiry_days=10, creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            eng.submit("admin", mid)
            eng.approve("admin", mid)
            eng.set_points(points)
            now[0] = T0 + 3 * engage.DAY
            while eng.execution("admin", mid)["state"] != "finished":
                r = eng.run_due("admin", message=mid)
                now[0] = max(now[0] + 1, r["next_due"] or 0)
            x = eng.execution("admin", mid)
            self.assertEqual((x["points_awards"], x["points_awarded"], x["points"]), (40, 40, 40 * 25))
            self.assertEqual(len(awarded), 40)
            self.assertEqual(len(asked), 41)  # customer 5 twice, with the same key
            self.assertEqual(sorted(a["customer"] for a in awarded.values()), list(range(40)))
            for a in awarded.values():
                self.assertTrue(a["key"].endswith(f"/u{a['customer']}/points"))
                self.assertEqual((a["points"], a["expiry_days"]), (25, 10))
                self.assertEqual(a["expires_at"], T0 + 3 * engage.DAY + 10 * engage.DAY)
            eng.set_points(None)

    @unittest.skipUnless(_native.has("eng_points_award_init"), "this library has no POC copies")
    def test_poc_copies(self):
        from engage._dispatch import POC_CUSTOMER
        now = [T0]
        sent = []

        def transport(envs):
            sent.extend(envs)
            return ["accepted"] * len(envs)
        with engage.Engine(transport=transport, clock=lambda: now[0]) as eng:
            org(eng)
            cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
            with self.assertRaises(engage.EngageError) as cm:
                eng.create_message("admin", cid, "M", include=["all"], poc=["nobody"],
                                   creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY,
                                     poc=["+15550009999"], creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            eng.submit("admin", mid)
            eng.approve("admin", mid)
            now[0] = T0 + 2 * engage.DAY
            eng.run_due("admin")
            poc = [e for e in sent if e.customer == POC_CUSTOMER]
            self.assertEqual([(e.recipient, e.channel) for e in poc], [("+15550009999", "sms")])
            self.assertTrue(poc[0].key.endswith("/poc0/sms"))
            x = eng.execution("admin", mid)
            self.assertEqual((x["state"], x["accepted"], x["sends"]), ("finished", 40, 40))

    @unittest.skipUnless(_native.has("eng_message_preview"), "this library has no preview")
    def test_preview_and_test_send(self):
        sent = []

        def transport(envs):
            sent.extend(envs)
            return ["accepted"] * len(envs)
        with engage.Engine(transport=transport, clock=lambda: T0) as eng:
            org(eng)
            cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
            mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY,
                                     creatives=[{"channel": "sms", "body": 'Hi {{first_name | "there"}} {{optout}}'}])
            p = eng.preview("admin", mid, "sms", customer=3)
            self.assertEqual(p["body"], "Hi there Reply STOP to opt out")
            self.assertEqual(p["recipient"], "+919800000003")
            self.assertEqual((p["segments"], p["reachable"]), (1, "reachable"))
            self.assertEqual(eng.preview("admin", mid, "sms")["recipient"], "")
            self.assertEqual((p["rule"], p["variant"]), ("undecided", None))
            # A personalised message: the variant an execution would choose for the customer.
            pid = eng.create_message("admin", cid, "P", include=["all"], send_at=T0 + 2 * engage.DAY,
                                     strategy="personalization",
                                     variants=[{"rule": "true", "channel": "sms", "body": "VIP {{optout}}"}],
                                     creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            v = eng.preview("admin", pid, "sms", customer=3)
            self.assertEqual((v["body"], v["rule"], v["variant"]), ("VIP Reply STOP to opt out", "variant", 0))
            self.assertEqual((v["variant_channel"], v["variant_rule"]), ("sms", "true"))
            with self.assertRaises(engage.NotFound) as cm:
                eng.preview("admin", mid, "email", customer=3)
            self.assertEqual(cm.exception.detail, "channel")
            self.assertEqual(eng.test_send("admin", mid, "sms", ["+15550001", "+15550002"]), ["accepted"] * 2)
            self.assertEqual([e.recipient for e in sent], ["+15550001", "+15550002"])
            with self.assertRaises(engage.InvalidArgument) as cm:
                eng.test_send("admin", mid, "sms", [])
            self.assertEqual(cm.exception.detail, "n")
            self.assertEqual(eng.execution("admin", mid)["state"], "none")


if __name__ == "__main__":
    unittest.main()
