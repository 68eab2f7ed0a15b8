"""Every ```c and ```python block (and Doxygen \\code{.c} block) of README.md and docs/*.md is
compiled or run.

- A C block with `int main(` is a program: compiled with -std=c11 -Wall -Wextra -Werror against
  the headers, linked with the built library, and run in an empty folder; it must exit 0.
- Any other C block is compiled (-c) at file scope after `#include <engage.h>`; a block preceded
  by `<!-- doc-test: function: DECLARATIONS -->` is compiled as the body of a function that
  starts with DECLARATIONS (for statement fragments).
- The Python blocks of one file run in order as one script (so a later block may use what an
  earlier one made), in an empty folder, with the binding on PYTHONPATH; it must exit 0.
Blocks in other languages (shell commands, grammar, output) are not code of the library; the
```example blocks of docs/rules-language.md are evaluated by the unit test rules_docs.

usage: check_code_blocks.py <source root> <build root> <cc>"""
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT, BUILD, CC = sys.argv[1:4]
LIB = os.path.join(BUILD, "src")
# A fenced block (```c) or a Doxygen one (\code{.c} ... \endcode), with an optional directive.
FENCE = re.compile(r"(?:<!-- doc-test: (?P<mode>\w+)(?:: (?P<decls>.*?))? -->\n)?"
                   r"^(?:```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^```|\\code\{\.(?P<dlang>\w+)\}\n(?P<dcode>.*?)^\\endcode)",
                   re.S | re.M)
PRELUDE = "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <engage.h>\n"
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable", "-Wno-unused-but-set-variable",
          "-Wno-unused-function",
          "-Wno-unused-parameter", "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(BUILD, "include")]


def blocks(path):
    text = open(path, encoding="utf-8").read()
    for m in FENCE.finditer(text):
        doxygen = m.group("dcode") is not None
        line = text.count("\n", 0, m.start("dcode" if doxygen else "code"))
        lang = {"py": "python"}.get(m.group("dlang"), m.group("dlang")) if doxygen else m.group("lang")
        yield lang, m.group("dcode" if doxygen else "code"), m.group("mode"), m.group("decls") or "", line


def compile_c(where, code, mode, decls, tmp):
    src = os.path.join(tmp, "block.c")
    if "int main(" in code:
        with open(src, "w") as f:
            f.write(code)
        exe = os.path.join(tmp, "block")
        r = subprocess.run([CC, *CFLAGS, src, "-o", exe, "-L" + LIB, "-lengage", "-lpthread", "-lm"],
                           capture_output=True, text=True)
        if r.returncode:
            return f"{where}: does not compile:\n{r.stderr}"
        run_dir = os.path.join(tmp, "run")
        os.makedirs(run_dir, exist_ok=True)
        r = subprocess.run([exe], cwd=run_dir, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, LD_LIBRARY_PATH=LIB))
        return f"{where}: exited {r.returncode}:\n{r.stdout}\n{r.stderr}" if r.returncode else None
    body = (PRELUDE + "void doc_block(void);\nvoid doc_block(void)\n{\n" + decls + "\n" + code + "}\n"
            if mode == "function" else PRELUDE + code)
    with open(src, "w") as f:
        f.write(body)
    r = subprocess.run([CC, *CFLAGS, "-c", src, "-o", os.path.join(tmp, "block.o")], capture_output=True, text=True)
    return f"{where}: does not compile:\n{r.stderr}" if r.returncode else None


def main():
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    failures, counts = [], {"c program": 0, "c fragment": 0, "python": 0}
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
               ENGAGE_LIBRARY=os.path.join(LIB, "libengage.so.1"), PYTHONDONTWRITEBYTECODE="1")
    for path in files:
        rel = os.path.relpath(path, ROOT)
        py = []
        for lang, code, mode, decls, line in blocks(path):
            where = f"{rel}:{line}"
            if lang == "c":
                with tempfile.TemporaryDirectory() as tmp:
                    err = compile_c(where, code, mode, decls, tmp)
                counts["c program" if "int main(" in code else "c fragment"] += 1
                if err:
                    failures.append(err)
            elif lang == "python":
                py.append(f"# --- {where}\n{code}")
                counts["python"] += 1
        if py:
            with tempfile.TemporaryDirectory() as tmp:
                r = subprocess.run([sys.executable, "-c", "\n".join(py)], cwd=tmp, env=env, capture_output=True,
                                   text=True, timeout=300)
            if r.returncode:
                failures.append(f"{rel}: its Python blocks failed:\n{r.stdout}\n{r.stderr}")
    for f in failures:
        print("FAIL:", f)
    print(f"{counts['c program']} C programs compiled and run, {counts['c fragment']} C fragments compiled, "
          f"{counts['python']} Python blocks run, in {len(files)} files")
    return 1 if failures or not counts["c program"] or not counts["python"] else 0


sys.exit(main())
