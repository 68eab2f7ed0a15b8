"""Installing and finding the library: `pip install ./bindings/python` offline (no index), the
library found through ENGAGE_LIBRARY, then a build tree next to the package, and a clear
ImportError when it is nowhere; and the README's Python example, run exactly as printed."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.environ.get("ENGAGE_LIBRARY") or os.environ.get("LIBENGAGE_PATH")


def run(code, cwd, env):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("ENGAGE_LIBRARY", "LIBENGAGE_PATH", "PYTHONPATH")}
    env.update(extra)
    return env


@unittest.skipUnless(LIB, "needs ENGAGE_LIBRARY")
class Install(unittest.TestCase):
    @unittest.skipUnless(__import__("importlib.util").util.find_spec("pip"), "this Python has no pip")
    def test_pip_install_offline(self):
        with tempfile.TemporaryDirectory() as d:
            target = os.path.join(d, "site")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--quiet", "--target", target,
                                os.path.join(ROOT, "bindings", "python")], capture_output=True, text=True,
                               env=clean_env(PIP_NO_INPUT="1"))
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run("import engage; print(engage.__file__); print(engage.version())", d,
                    clean_env(PYTHONPATH=target, ENGAGE_LIBRARY=LIB))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(target), r.stdout)
            self.assertRegex(r.stdout, r"\n\d+\.\d+\.\d+\n")

    def test_library_lookup_order(self):
        with tempfile.TemporaryDirectory() as d:
            # A checkout-shaped tree: bindings/python/engage beside build/src/libengage.so.1.
            pkg = os.path.join(d, "bindings", "python")
            shutil.copytree(os.path.join(ROOT, "bindings", "python", "engage"), os.path.join(pkg, "engage"))
            os.makedirs(os.path.join(d, "build", "src"))
            built = os.path.join(d, "build", "src", "libengage.so.1")
            os.symlink(LIB, built)
            code = "import engage; print(engage.library_path())"
            r = run(code, d, clean_env(PYTHONPATH=pkg))
            self.assertEqual((r.returncode, r.stdout.strip()), (0, built), r.stderr)
            r = run(code, d, clean_env(PYTHONPATH=pkg, ENGAGE_LIBRARY=LIB))
            self.assertEqual(r.stdout.strip(), LIB, r.stderr)
            r = run(code, d, clean_env(PYTHONPATH=pkg, ENGAGE_LIBRARY=os.path.join(d, "nowhere.so")))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("ENGAGE_LIBRARY", r.stderr)

    def test_readme_example_runs_as_printed(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        m = re.search(r"<!-- python-example:begin -->\n```python\n(.*?)```\n<!-- python-example:end -->", readme, re.S)
        self.assertIsNotNone(m, "no Python example in README.md")
        with tempfile.TemporaryDirectory() as d:
            r = run(m.group(1), d, clean_env(PYTHONPATH=os.path.join(ROOT, "bindings", "python"), ENGAGE_LIBRARY=LIB))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("message.creative[sms].body", r.stdout)
            self.assertIn("approved", r.stdout)
            self.assertTrue(os.path.exists(os.path.join(d, "example.db")))


if __name__ == "__main__":
    unittest.main()
