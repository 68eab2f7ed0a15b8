"""--calib (calib.c, report_calib.c) against what must hold whatever the world.

With the world's truth in every part of X-Engage's score (--truth q,pi,value,delivery) and no exploration, its
estimates are the truth: every estimated / true ratio is 1, every close call's true margin is its estimated one,
and its choices are the oracle's (100 % the same, nothing lost, no credits beyond). As shipped, the tables add up
(the deciles' sends are the per-channel table's sends), the estimates differ from the truth (the tables see the
error) and the choices part from the oracle's with a loss; without --calib nothing is printed. Last, the engine
driver refuses --calib."""
import os
import subprocess
import sys
import tempfile

SIM = sys.argv[1]
WORLD = "".join([
    "segments 4\n",
    "channel email 0.85 0.03 0.20 0.02 0.97 12 36\n",
    "channel sms 0.95 0.17 0.06 0.13 0.92 1 3\n",
    "channel push 0.40 0.01 0.06 0.10 0.85 0.5 1.5\n",
    "channel whatsapp 0.60 0.86 0.30 0.067 0.95 1 3\n",
])


def run(*args, code=0):
    with tempfile.NamedTemporaryFile("w", suffix=".world", delete=False) as f:
        f.write(WORLD)
    try:
        p = subprocess.run([SIM, "--world", f.name, "--customers", "4000", "--waves", "3", "--seeds", "2",
                            "--policies", "xengage,oracle", *args], capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(f.name)
    assert p.returncode == code, p.stdout + p.stderr
    return p.stdout


def table(out, heading):
    lines = out.splitlines()
    at = [i for i, l in enumerate(lines) if l == heading] or [i for i, l in enumerate(lines) if l.startswith(heading)]
    assert len(at) == 1, (heading, out)
    rows = []
    for l in lines[at[0] + 3:]:
        if not l.startswith("|"):
            break
        rows.append([x.strip() for x in l.strip().strip("|").split("|")])
    return rows


def pair(cell):
    a, b = cell.split("/")
    return float(a), float(b)


def summary(out):
    line = [l for l in out.splitlines() if l.startswith("xengage's choice against the oracle's")][0]
    same = float(line.split("customers: ")[1].split(" %")[0])
    lost = float(line.split("loses, ")[1].split(" a seed")[0])
    extra = float(line.split("oracle's, ")[1].split(" a seed")[0])
    return same, lost, extra


exact = run("--truth", "q,pi,value,delivery", "--explore", "0", "--calib")
for heading in ("sends by decile of their estimated net value", "sends by decile of their estimated net value per"):
    rows = table(exact, heading)
    assert len(rows) == 10, rows
    for r in rows:
        assert r[4] == "1.000", (heading, r)
for r in table(exact, "per channel, sends"):
    for j in (2, 6):
        if r[j] != "-":
            a, b = pair(r[j])
            assert a == b, r
for r in table(exact, "close calls"):
    for j in (2, 6):
        if r[j] != "-":
            assert r[j] == r[j + 1], r
assert summary(exact) == (100.0, 0.0, 0.0), summary(exact)

shipped = run("--calib")
sends = sum(float(r[1]) for r in table(shipped, "sends by decile of their estimated net value"))
chosen = sum(float(r[1]) for r in table(shipped, "per channel, sends"))
assert abs(sends - chosen) <= 10, (sends, chosen)  # each row's count is rounded
ratios = [float(r[4]) for r in table(shipped, "sends by decile of their estimated net value")]
assert max(abs(x - 1) for x in ratios) > 0.02, ratios
same, lost, extra = summary(shipped)
assert 20 < same < 100 and lost > 0, (same, lost)
assert "--calib" not in run()
err = subprocess.run([SIM, "--customers", "300", "--driver", "engine", "--calib"], capture_output=True, text=True)
assert err.returncode == 2 and "--calib needs --driver direct" in err.stderr, err.stderr
print("calib: ok")
