"""The Python binding over the built library: open, info, persistence, errors."""
import os
import tempfile
import unittest

import engage


class EngineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "engage.db")

    def tearDown(self):
        self.dir.cleanup()

    def test_version(self):
        self.assertRegex(engage.version(), r"^\d+\.\d+\.\d+")

    def test_file_store_persists_open_count(self):
        with engage.Engine(self.path) as eng:
            first = eng.info()
            self.assertEqual(first["open_count"], 1)
            self.assertEqual(first["store_kind"], "file")
        with engage.Engine(self.path) as eng:
            again = eng.info()
            self.assertEqual(again["open_count"], 2)
            self.assertEqual(again["created"], first["created"])

    def test_memory_engine(self):
        with engage.Engine() as eng:
            self.assertEqual(eng.info()["store_kind"], "memory")

    def test_events_segments_cap(self):
        # eng_config.events_segments passes through; no events loaded yet: nothing counted
        with engage.Engine(events_segments=1) as eng:
            info = eng.info()
            self.assertEqual((info["events_segments"], info["events_segments_resident"],
                              info["events_segment_reads"]), (0, 0, 0))

    def test_errors_carry_code_message_detail(self):
        with self.assertRaises(engage.EngageError) as cm:
            engage.Engine(self.path, create=False)
        self.assertEqual(cm.exception.code, engage.ENG_ENOTFOUND)
        self.assertEqual(cm.exception.detail, self.path)
        with engage.Engine(self.path):
            with self.assertRaises(engage.EngageError) as cm:
                engage.Engine(self.path)
            self.assertEqual(cm.exception.code, engage.ENG_EBUSY)
        with open(self.path, "wb") as f:
            f.write(b"this is not a libengage store file at all")
        with self.assertRaises(engage.EngageError) as cm:
            engage.Engine(self.path)
        self.assertEqual(cm.exception.code, engage.ENG_ECORRUPT)
        self.assertEqual(cm.exception.detail, "0")
        self.assertIn("not a libengage store", cm.exception.message)

    def test_threads_option(self):
        with self.assertRaises(engage.EngageError) as cm:
            engage.Engine(self.path, threads=65)
        self.assertEqual(cm.exception.code, engage.ENG_ERANGE)
        self.assertEqual(cm.exception.detail, "config.threads")
        rows = "id,city\n" + "".join("c%d,Pune\n" % i for i in range(20000))
        counts = []
        for threads in (0, 1):  # no thread, and the import's applier thread: the same customers
            with engage.Engine(threads=threads) as eng:
                eng.create_org("acme", admin="admin")
                eng.add_column("admin", "city", "string")
                report = eng.import_csv("admin", rows)
                counts.append((eng.customer_count("admin"), report["inserted"]))
        self.assertEqual(counts, [(20000, 20000), (20000, 20000)])

    def test_closed_engine_is_misuse(self):
        eng = engage.Engine()
        eng.close()
        eng.close()  # idempotent
        with self.assertRaises(engage.EngageError) as cm:
            eng.info()
        self.assertEqual(cm.exception.code, engage.ENG_EMISUSE)


if __name__ == "__main__":
    unittest.main()
