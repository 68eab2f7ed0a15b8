"""The binding's ctypes structs match the C headers: a C program generated from the Python
classes prints sizeof and every offsetof; every field's offset must equal what ctypes computes,
and the Python struct may be shorter than the C one only by fields appended in a later struct
version (the binding passes its own version, which the library honours)."""
import ctypes
import os
import shutil
import subprocess
import tempfile
import unittest

from engage import _native as n


@unittest.skipUnless(os.environ.get("ENGAGE_INCLUDE") and shutil.which(os.environ.get("CC", "cc")),
                     "needs ENGAGE_INCLUDE and a C compiler")
class Layout(unittest.TestCase):
    def test_every_struct_matches_the_header(self):
        lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <engage.h>", "int main(void) {"]
        expect, sizes = [], {}
        optional = [cls for cls, fn in n.OPTIONAL_STRUCTS.items() if n.has(fn)]  # areas this library has
        for cls in n.STRUCTS + optional:
            c = cls._c_name_
            lines.append(f'printf("{c} %zu\\n", sizeof({c}));')
            expect.append(f"{c} {ctypes.sizeof(cls)}")
            if c in n.VERSIONS:
                sizes[c] = ctypes.sizeof(cls)
            renames = getattr(cls, "_c_fields_", {})
            for field, _ in cls._fields_:
                cf = renames.get(field, field)
                lines.append(f'printf("{c}.{cf} %zu\\n", offsetof({c}, {cf}));')
                expect.append(f"{c}.{cf} {getattr(cls, field).offset}")
        lines.append("return 0; }")
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
            with open(src, "w") as f:
                f.write("\n".join(lines))
            incs = [f"-I{p}" for p in os.environ["ENGAGE_INCLUDE"].split(os.pathsep)]
            subprocess.run([os.environ.get("CC", "cc"), "-std=c11", *incs, src, "-o", exe], check=True)
            got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split("\n")
        got = got[:-1]
        for i, (g, e) in enumerate(zip(got, expect)):
            name, _, size = e.partition(" ")
            if "." not in name and name in sizes and g != e:
                # a versioned struct the library has grown: ours must be a prefix of it
                self.assertEqual(g.partition(" ")[0], name)
                self.assertLessEqual(int(size), int(g.partition(" ")[2]), name)
                got[i] = e
        self.assertEqual(got, expect)
        self.assertGreater(len(expect), 300)


if __name__ == "__main__":
    unittest.main()
