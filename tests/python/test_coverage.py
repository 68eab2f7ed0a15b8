"""Every public function of the C API (src/libengage.map) is reachable from Python: it has a
ctypes prototype in _native._SIGNATURES and a call in one of the binding's modules. A new C
function fails this test until it is bound, or listed below as C-only plumbing with the reason.
*_init functions are exempt: Python builds the versioned structs itself (_native.new)."""
import os
import re
import unittest

from engage import _native

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PKG = os.path.dirname(os.path.abspath(_native.__file__))

# C-only plumbing: functions a Python host has no use for, each with why.
ALLOWED = {
    "eng_error_clear": "the binding turns each failure into an exception at once; no error state outlives a call",
    "eng_store_memory_new": "Engine() with neither path nor storage: eng_open makes the memory store itself",
}


def public_functions():
    with open(os.path.join(ROOT, "src", "libengage.map")) as f:
        return sorted(set(re.findall(r"^\s+(eng_[a-z0-9_]+);", f.read(), re.M)))


def binding_source():
    text = []
    for name in sorted(os.listdir(PKG)):
        if name.endswith(".py") and name != "_native.py":
            with open(os.path.join(PKG, name)) as f:
                text.append(f.read())
    return "\n".join(text)


@unittest.skipUnless(os.path.exists(os.path.join(ROOT, "src", "libengage.map")), "needs the source tree")
class Coverage(unittest.TestCase):
    def test_every_public_function_has_a_binding(self):
        names = public_functions()
        self.assertGreater(len(names), 150)
        src = binding_source()
        missing = [n for n in names if not n.endswith("_init") and n not in ALLOWED
                   and not (n in _native._SIGNATURES and re.search(r"\blib\." + n + r"\b", src))]
        self.assertEqual(missing, [], "public C functions without a Python binding (bind them in "
                                      "bindings/python/engage, or list them in ALLOWED with the reason)")

    def test_allow_list_and_prototypes_are_current(self):
        names = set(public_functions())
        self.assertEqual(sorted(n for n in ALLOWED if n not in names), [], "ALLOWED names no public function")
        self.assertEqual(sorted(n for n in _native._SIGNATURES if n not in names), [],
                         "prototypes of functions the library no longer exports")


if __name__ == "__main__":
    unittest.main()
