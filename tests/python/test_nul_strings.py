"""A Python str with a NUL character inside, given where the C API takes a C string: ctypes would
cut it at the NUL, so "C1\\x00junk" erased customer C1 and "admin\\x00x" acted as admin. The binding
refuses such a string with InvalidArgument before calling, and nothing changes; a NUL inside CSV
data (a buffer with its length) still reaches the library, which names its line and column."""
import unittest

import engage


class NulStrings(unittest.TestCase):
    def setUp(self):
        self.eng = engage.Engine()
        self.eng.create_org("acme", admin="admin")
        self.eng.import_csv("admin", "id,contact.sms,consent.sms\nC1,+919800000001,yes\nC2,+919800000002,yes\n")

    def tearDown(self):
        self.eng.close()

    def test_ids_and_actors_with_nul_are_refused(self):
        eng = self.eng
        with self.assertRaises(engage.InvalidArgument) as cm:
            eng.erase_customer("admin", "C1\x00junk")
        # docs/privacy.md: an error names the field, never the value (an external id here; the
        # message repeated it, qa9u)
        self.assertNotIn("C1", str(cm.exception) + cm.exception.message + cm.exception.detail)
        with self.assertRaises(engage.InvalidArgument):
            eng.erase_customers("admin", ["C2\x00junk"])
        with self.assertRaises(engage.InvalidArgument):
            eng.export_customer("admin", "C2\x00junk")
        with self.assertRaises(engage.InvalidArgument):
            eng.put_actor("admin\x00x", "zed", ["author"])
        with self.assertRaises(engage.InvalidArgument):
            eng.create_group("admin", "g\x00h", filter="reachable.sms")
        self.assertEqual(eng.export_customer("admin", "C1")["external_id"], "C1")  # nothing was erased
        self.assertEqual(eng.export_customer("admin", "C2")["external_id"], "C2")
        with self.assertRaises(engage.NotFound):
            eng.actor("admin", "zed")

    def test_nul_in_csv_data_reaches_the_library(self):
        with self.assertRaises(engage.InvalidArgument) as cm:
            self.eng.import_csv("admin", "id\nC3\x00x\n")
        self.assertEqual(cm.exception.detail, "2:1")


if __name__ == "__main__":
    unittest.main()
