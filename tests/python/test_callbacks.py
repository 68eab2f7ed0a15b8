"""Callbacks written in Python: a storage backend, a transport, a clock, progress, a CSV reader,
the model event hook and a rule's row getter. Each one that raises becomes an error return
(never a crash): the failing call raises an EngageError whose __cause__ is the exception, the
engine stays usable, and nothing half-done is stored."""
import io
import unittest

import engage

T0 = 1767225600000
CSV = "id,contact.sms,consent.sms\n" + "".join(f"C{i},+9198{i:08d},yes\n" for i in range(50))
BIG = "id\n" + "".join(f"B{i}\n" for i in range(70000))  # the import reports progress every 65,536 rows


class Boom(Exception):
    pass


class FlakyStorage(engage.DictStorage):
    """The reference Python storage, with a put that raises while ``fail`` is set."""

    def __init__(self):
        super().__init__()
        self.fail = False
        self.closed = 0

    def put(self, key, value):
        if self.fail:
            raise Boom("disk on fire")
        super().put(key, value)

    def close(self):
        self.closed += 1


class Callbacks(unittest.TestCase):
    def test_python_storage_persists_across_engines(self):
        s = FlakyStorage()
        with engage.Engine(storage=s) as eng:
            self.assertEqual(eng.info()["store_kind"], "custom")
            eng.create_org("acme", "admin")
            eng.import_csv("admin", CSV)
        self.assertEqual(s.closed, 1)
        with engage.Engine(storage=s) as eng:
            self.assertEqual(eng.info()["open_count"], 2)
            self.assertEqual(eng.customer_count("admin"), 50)

    def test_raising_storage_is_an_error_return_and_changes_nothing(self):
        s = FlakyStorage()
        with engage.Engine(storage=s) as eng:
            eng.create_org("acme", "admin")
            before = dict(s.data)
            s.fail = True
            with self.assertRaises(engage.EngageError) as cm:
                eng.import_csv("admin", CSV)
            self.assertIsInstance(cm.exception.__cause__, Boom)
            self.assertEqual(cm.exception.code, engage.ENG_EUSER)
            self.assertIn("Boom", cm.exception.message)
            self.assertIsInstance(eng.callback_errors[-1], Boom)
            self.assertEqual(s.data, before)  # the batch was rolled back
            s.fail = False
            self.assertEqual(eng.import_csv("admin", CSV)["inserted"], 50)

    def test_raising_progress_cancels(self):
        def progress(op, done, total):
            raise Boom("stop")
        with engage.Engine(progress=progress) as eng:
            eng.create_org("acme", "admin")
            with self.assertRaises(engage.Cancelled) as cm:
                eng.import_csv("admin", BIG)
            self.assertIsInstance(cm.exception.__cause__, Boom)
            self.assertEqual(eng.customer_count("admin"), 0)

    def test_progress_reports_and_true_cancels(self):
        seen = []
        with engage.Engine(progress=lambda op, done, total: seen.append((op, done, total))) as eng:
            eng.create_org("acme", "admin")
            eng.import_csv("admin", BIG)
        # engage/engine.h, "Progress": per operation, done = 0 first, done = total last, never down
        # (the import reads its rows as "audience.import", then applies them as "audience.apply").
        self.assertTrue(seen and seen[0][0] == "audience.import" and seen[0][1] == 0, seen)
        self.assertEqual(sorted({op for op, _, _ in seen}), ["audience.apply", "audience.import"])
        for name in ("audience.import", "audience.apply"):
            ops = [(d, t) for op, d, t in seen if op == name]
            self.assertEqual(ops[0][0], 0, seen)
            self.assertTrue(ops[-1][0] == ops[-1][1] > 0, seen)
            self.assertEqual([d for d, _ in ops], sorted(d for d, _ in ops))
        with engage.Engine(progress=lambda *a: True) as eng:
            eng.create_org("acme", "admin")
            with self.assertRaises(engage.Cancelled):
                eng.import_csv("admin", BIG)
            self.assertEqual(eng.customer_count("admin"), 0)

    def test_raising_csv_reader(self):
        class Reader(io.RawIOBase):
            def __init__(self):
                self.calls = 0

            def read(self, n=-1):
                self.calls += 1
                if self.calls > 1:
                    raise Boom("network gone")
                return CSV[:40].encode()
        with engage.Engine() as eng:
            eng.create_org("acme", "admin")
            with self.assertRaises(engage.EngageError) as cm:
                eng.import_csv("admin", Reader())
            self.assertIsInstance(cm.exception.__cause__, Boom)
            self.assertEqual(eng.customer_count("admin"), 0)
            self.assertEqual(eng.import_csv("admin", io.BytesIO(CSV.encode()))["inserted"], 50)

    def test_raising_clock_keeps_the_last_good_time(self):
        t = [T0]

        def clock():
            if t[0] is None:
                raise Boom("no time")
            return t[0]
        with engage.Engine(clock=clock) as eng:
            self.assertEqual(eng.now(), T0)
            t[0] = None
            self.assertEqual(eng.now(), T0)
            self.assertIsInstance(eng.callback_errors[-1], Boom)

    def test_raising_model_event_hook(self):
        def hook(event):
            raise Boom("mailer down")
        with engage.Engine(clock=lambda: T0) as eng:
            eng.create_org("acme", "admin", allow_self_approval=True)
            eng.on_model_event(hook)
            eng.put_actor("admin", "asha", ["author", "approver"])
            cid = eng.create_campaign("asha", "C", T0 + engage.DAY, T0 + 9 * engage.DAY)
            eng.import_csv("admin", CSV)
            eng.create_group("admin", "all", ids=[f"C{i}" for i in range(50)])
            mid = eng.create_message("asha", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY,
                                     creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            eng.submit("asha", mid)  # the hook raised; the submit stands
            self.assertEqual(eng.message("asha", mid)["state"], "awaiting_approval")
            self.assertIsInstance(eng.callback_errors[-1], Boom)

    def test_raising_transport_then_exactly_once(self):
        state = {"fail": True, "sent": []}

        def transport(envelopes):
            if state["fail"]:
                raise Boom("provider 503")
            state["sent"].extend(e.key for e in envelopes)
            return ["accepted"] * len(envelopes)
        now = [T0]
        with engage.Engine(transport=transport, clock=lambda: now[0]) as eng:
            eng.create_org("acme", "admin")
            eng.import_csv("admin", CSV)
            eng.put_actor("admin", "asha", ["author"])
            eng.put_actor("admin", "ravi", ["approver"])
            eng.create_group("admin", "all", ids=[f"C{i}" for i in range(50)])
            cid = eng.create_campaign("asha", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
            mid = eng.create_message("asha", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY,
                                     creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
            eng.submit("asha", mid)
            eng.approve("ravi", mid)
            now[0] = T0 + 2 * engage.DAY
            run = eng.run_due("admin")  # every send unknown: retried later with the same key
            self.assertEqual((run["accepted"], run["unknown"]), (0, 50))
            self.assertIsInstance(eng.callback_errors[-1], Boom)
            state["fail"] = False
            for _ in range(20):
                now[0] += engage.HOUR
                eng.run_due("admin")
                if eng.execution("admin", mid)["state"] == "finished":
                    break
            self.assertEqual(eng.execution("admin", mid)["accepted"], 50)
            self.assertEqual(len(state["sent"]), 50)
            self.assertEqual(len(set(state["sent"])), 50)

    def test_callbacks_outlive_their_last_python_reference(self):
        import gc
        now = [T0]
        sent = []
        # Only the engine holds these lambdas and the storage object.
        eng = engage.Engine(storage=engage.DictStorage(), clock=lambda: now[0],
                            transport=lambda envs: sent.extend(envs) or ["accepted"] * len(envs))
        gc.collect()
        eng.create_org("acme", "admin", allow_self_approval=True)
        eng.import_csv("admin", CSV)
        eng.create_group("admin", "all", ids=[f"C{i}" for i in range(50)])
        cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 9 * engage.DAY, control_percent=0)
        mid = eng.create_message("admin", cid, "M", include=["all"], send_at=T0 + 2 * engage.DAY,
                                 creatives=[{"channel": "sms", "body": "Hi {{optout}}"}])
        eng.submit("admin", mid)
        eng.approve("admin", mid)
        gc.collect()
        now[0] = T0 + 2 * engage.DAY
        self.assertEqual(eng.run_due("admin")["accepted"], 50)
        self.assertEqual(len(sent), 50)
        eng.close()
        eng.close()  # idempotent

    def test_one_engine_many_python_threads(self):
        import threading
        with engage.Engine() as eng:
            eng.create_org("acme", "admin")
            eng.import_csv("admin", CSV)
            errors = []

            def buyer(k):
                try:
                    for i in range(25):
                        eng.append_transactions("acme", [{"id": f"T{k}-{i}", "customer": f"C{i}",
                                                          "time": T0, "amount": "1.25"}])
                        eng.customer_count("admin")
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
            threads = [threading.Thread(target=buyer, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(list(eng.transactions("acme"))), 100)
            self.assertEqual(sum(t["amount"] for t in eng.transactions("acme")), 125)

    def test_raising_rule_getter(self):
        with engage.Engine() as eng:
            rule = engage.Rule(eng, "age >= 18", [("age", "int")])

            class Row(dict):
                def get(self, k, d=None):
                    raise Boom("bad row")
            with self.assertRaises(Boom):
                rule.evaluate(Row())
            self.assertTrue(rule.evaluate({"age": 30}))


if __name__ == "__main__":
    unittest.main()
