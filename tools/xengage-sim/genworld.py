#!/usr/bin/env python3
"""genworld: random X-Engage worlds from a seed, played through the engine, checked by invariants.

    python3 tools/xengage-sim/genworld.py world SEED [--python]       # print world SEED's file
    python3 tools/xengage-sim/genworld.py play --sim build/tools/xengage-sim/xengage-sim --worlds 1-40 \\
        [--seeds 3] [--python LIBENGAGE] [--python-worlds 1-4] [--keep DIR] [--max-customers N]

Issue 12: X-Engage is judged on worlds we have not seen, played by hosts through the public API.
A world here is drawn from its seed alone (random.Random(seed)): 1 to 15 channels (every engine
channel can appear; the engine has no custom channels, a world file naming one is refused), costs
from 0 to above the order value, reach 0.05-1 (now and then 0), base engagement 0.001-0.9,
delivery 0-1, zero and very long response delays, 1 to 64 segments, 1 to 8 waves of 1 to 12
batches, 200 to 200,000 customers, zero-value orders, no organic buying, outages and drift, no,
partial or full history, a sales history or none, a credit cap or none. The file is what both
hosts read (world.c's keys; pyworld.py's copy of them), so every world found bad can be kept and
replayed: `xengage-sim --world FILE --seeds 1 --seed0 S --driver engine`.

`play` runs each world through the C engine driver (`--driver engine`: the public API) with the
policies xengage, priority, random_single, send_all and oracle, and checks, rather than numbers:
- it runs: exit 0, no error the host did not cause, no nan or inf in the tables;
- every send of a wave goes to a test-group customer on a channel they are reachable on (the only
  channels with a contact and consent), at most one per customer (driver_engine.c's check_send
  ends the run otherwise), and a capped wave is charged within its cap and exactly what left;
- the same world and seed give the same tables with the engine's threads at 0 and 2;
- xengage's net value is not below max(0, random_single, priority) beyond the seeds' noise: the
  mean over --seeds of the per-seed shortfall, less two standard errors, as a share of the oracle's
  net value (floored at 5 % of the baselines' largest |net|: see gap()); under a credit cap the
  baselines and the oracle are held to the same cap as xengage (capped(), oracle_budget); the worst
  worlds are printed, and --gap makes a world beyond it a failure.
With --python (the library's path), the first --python-worlds worlds are also played from Python
through the binding (pyworld.py's Player, which checks the same send invariants and the cap) at
the customers X-Engage's 100,000 test-group minimum needs, twice, for the same tables.
"""
import argparse
import math
import os
import random
import re
import subprocess
import sys
import tempfile

ENGINE_CHANNELS = ("sms", "email", "push", "whatsapp", "wechat", "viber", "rcs", "zalo", "inapp", "line",
                   "calltask", "facebook", "instagram", "google", "youtube")
POLICIES = "xengage,priority,random_single,send_all,oracle"


def _logu(rnd, lo, hi):
    return math.exp(rnd.uniform(math.log(lo), math.log(hi)))


def _p_reachable(reach):
    """Chance a customer is reachable on some channel, reachability independent (reach_corr lowers it)."""
    miss = 1.0
    for r in reach:
        miss *= 1 - r
    return 1 - miss


def gen(seed, python=False):
    """World ``seed``'s file (text). ``python``: sized for a Python host (a test group of 100,000 reachable)."""
    rnd = random.Random(seed)
    k = rnd.randint(1, len(ENGINE_CHANNELS))
    names = rnd.sample(ENGINE_CHANNELS, k)
    value = 0.0 if rnd.random() < 0.05 else _logu(rnd, 0.5, 2000)
    lines = [f"# genworld.py world {seed}{' --python' if python else ''}"]
    chans = []
    for name in names:
        if rnd.random() < 0.15:
            cost = 0.0
        elif value > 0:
            cost = value * _logu(rnd, 1e-5, 1.5)  # up to above the order value
        else:
            cost = _logu(rnd, 0.001, 2.0)
        reach = 0.0 if rnd.random() < 0.04 else rnd.uniform(0.05, 1.0)
        qbar = _logu(rnd, 0.001, 0.9)
        conv = _logu(rnd, 0.001, 0.6)
        u = rnd.random()
        delivery = 0.0 if u < 0.05 else 1.0 if u < 0.2 else rnd.uniform(0.2, 1.0)
        if rnd.random() < 0.15:
            delay, window = 0.0, _logu(rnd, 0.1, 24)
        else:
            delay = _logu(rnd, 0.05, 400)
            window = delay * rnd.uniform(1.5, 4)
        chans.append([name, reach, cost, qbar, conv, delivery, delay, window])
    if all(c[1] == 0 for c in chans):  # nobody reachable: the engine refuses the message (no test recipient), as
        chans[0][1] = 0.05             # it should; a host would not send it (world 127). No draw: others unchanged
    control = rnd.choice((0.0, 0.02, 0.05, 0.1, 0.2, 0.5))
    if python:  # the seed's 100,000 test customers, reachable on some channel, within 200,000 customers
        control = min(control, 0.1)
        if _p_reachable([c[1] for c in chans]) < 0.6:
            max(chans, key=lambda c: c[1])[1] = rnd.uniform(0.6, 1.0)
    seg = 1 if rnd.random() < 0.3 else int(_logu(rnd, 2, 65))
    waves = rnd.randint(1, 8)
    if python:  # a Python play of 100,000+ customers costs about 5 s of CPU a wave and engine: at most 3 waves
        waves = min(waves, 3)
    hist = 0 if rnd.random() < 0.4 else rnd.randint(1, 6)
    reach_corr = 0.0 if rnd.random() < 0.5 else rnd.uniform(0, 0.9)
    if python:
        reach_corr = min(reach_corr, 0.3)
        need = 100000 / ((1 - control) * _p_reachable([c[1] for c in chans]) * (1 - 0.5 * reach_corr))
        customers = min(200000, int(need * 1.08) + 1000)
    else:
        customers = int(_logu(rnd, 200, 200000))
    kv = [("customers", customers), ("segments", seg), ("waves", waves), ("batches", rnd.randint(1, 12)),
          ("control", control), ("batch_gap_h", round(_logu(rnd, 0.1, 24), 3)),
          ("wave_gap_h", rnd.choice((24, 72, 168, 336))), ("history", hist),
          ("sales_history_weeks", 0 if rnd.random() < 0.5 else rnd.randint(1, 52)),
          ("order_sd", 0 if rnd.random() < 0.6 else round(rnd.uniform(0, 1.2), 3)),
          ("seg_sd", round(rnd.uniform(0, 1.5), 3)), ("cust_sd", round(rnd.uniform(0, 1.5), 3)),
          ("resp_sd", round(rnd.uniform(0, 1.2), 3)), ("conv_sd", round(rnd.uniform(0, 1), 3)),
          ("organic", 0 if rnd.random() < 0.05 else round(_logu(rnd, 0.001, 0.3), 5)),
          ("organic_resp", round(rnd.uniform(0, 1), 3)), ("value_mean", round(value, 4)),
          ("value_sd", round(rnd.uniform(0, 1.2), 3)), ("overlap", round(rnd.uniform(0, 1), 3)),
          ("fatigue", round(rnd.choice((0, 0.1, 0.5, 2)) * (value > 0), 3)),
          ("pref_rank", rnd.choice((0, 0, 1, 2, 3))), ("pref_sd", round(rnd.uniform(0, 1.5), 3)),
          ("reach_corr", round(reach_corr, 3)),
          ("budget", 0 if rnd.random() < 0.6 else round(rnd.uniform(0.02, 1), 3))]
    lines += [f"{key} {v}" for key, v in kv]
    lines.append("#       name reach cost qbar conv delivery delay_h window_h")
    for c in chans:
        lines.append("channel " + " ".join([c[0]] + [f"{x:.6g}" for x in c[1:]]))
    order = list(names)
    rnd.shuffle(order)
    lines.append("priority " + " ".join(order))
    if hist and k > 1 and rnd.random() < 0.3:
        lines.append("history_channels " + " ".join(rnd.sample(names, rnd.randint(1, k - 1))))
    for _ in range(rnd.choice((0, 0, 1, 2))):
        if waves > 1:
            lines.append(f"outage {rnd.choice(names)} {rnd.randint(1, waves)} {round(rnd.uniform(0, 0.5), 3)} "
                         f"{rnd.randint(1, waves)}")
    if waves > 1 and rnd.random() < 0.2:
        lines.append(f"drift {rnd.randint(2, waves)} {round(rnd.uniform(0, 1), 3)}")
    return "\n".join(lines) + "\n"


# ---- the C engine driver ---------------------------------------------------------------------------
def _run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    return p.returncode, p.stdout, p.stderr


def _summary(out):
    """policy -> net value (the first table's mean; with one seed, the seed's); under a credit cap also
    "oracle_budget" (the oracle held to the cap) and, per policy, "cost:<policy>" (its credits as a share of
    send_all's)."""
    net = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 12 and cells[0] in POLICIES.split(",") + ["oracle_budget"] and cells[0] not in net:
            net[cells[0]] = float(cells[4].split()[0])
            if cells[8].endswith("%"):
                net["cost:" + cells[0]] = float(cells[8].split()[0]) / 100
    return net


def _tables(out):
    """The output without its timing line (the rest must not depend on threads)."""
    return "\n".join(l for l in out.splitlines() if "campaign time" not in l)


def play_c(sim, path, seed, threads=(0, 2)):
    """One world and seed through the engine driver at each thread count: (net per policy, problems)."""
    problems, outs = [], []
    for t in threads:
        rc, out, err = _run([sim, "--world", path, "--seeds", "1", "--seed0", str(seed), "--driver", "engine",
                             "--policies", POLICIES, "--threads", str(t)])
        if rc != 0:
            problems.append(f"exit {rc} (threads {t}): {(err or out).strip()[-400:]}")
            return None, problems
        if re.search(r"\bnan\b|\binf\b", out):
            problems.append("nan or inf in the tables")
        outs.append(_tables(out))
    if len(set(outs)) > 1:
        problems.append(f"tables differ between threads {threads}")
    net = _summary(outs[0])
    if not set(POLICIES.split(",")) <= set(net):
        problems.append(f"summary rows {sorted(net)}")
        return None, problems
    return net, problems


def capped(n, p, budget):
    """Policy p's net value held to a credit cap of @p budget (a share of send_all's credits, as xengage is):
    cut at the cap in the audience's order, as the engine cuts, a baseline keeps a share budget / its cost of
    its sends, customers drawn regardless of their worth, so that share of its net value on average."""
    c = n.get("cost:" + p, 0.0)
    return n[p] * min(1.0, budget / c) if budget and c > 0 else n[p]


def gap(nets, budget=0.0):
    """xengage's shortfall below max(0, random_single, priority) over seeds: (mean, standard error) as a share
    of the oracle's mean net value, floored at a twentieth of the baselines' largest |net value| (a world where
    even the oracle earns almost nothing, while sending costs a lot, is judged against what is at stake).
    Under a credit cap (@p budget, a share of send_all's credits) xengage is held to it and so are the
    baselines (capped()) and the oracle (the simulator's oracle_budget): an uncapped baseline spends credits
    the campaign does not have."""
    d = [max(0.0, capped(n, "random_single", budget), capped(n, "priority", budget)) - n["xengage"] for n in nets]
    stake = max(abs(capped(n, p, budget)) for n in nets for p in ("priority", "random_single", "send_all"))
    top = "oracle_budget" if budget and all("oracle_budget" in n for n in nets) else "oracle"
    scale = max(sum(n[top] for n in nets) / len(nets), 0.05 * stake, 1.0)
    m = sum(d) / len(d)
    se = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d)) if len(d) > 1 else 0.0
    return m / scale, se / scale


# ---- the Python host ---------------------------------------------------------------------------------
def play_python(lib, path, seed):
    """One world through pyworld.py's Player (the binding), twice: (summary, problems)."""
    here = os.path.dirname(os.path.abspath(__file__))
    os.environ["ENGAGE_LIBRARY"] = lib
    sys.path[:0] = [here, os.path.join(here, "..", "..", "bindings", "python")]
    import engage
    import pyworld
    p = pyworld.load_params(path)
    runs, problems = [], []
    for threads in (1, 2):
        player = pyworld.Player(engage, p, seed, {"xengage", "priority"}, threads=threads)
        try:
            res, _, _ = player.play()
        except Exception as e:  # noqa: BLE001 - every error is a finding, named
            problems.append(f"{type(e).__name__}: {e}")
            return None, problems
        runs.append(pyworld.summarize(res))
    if runs[0] != runs[1]:
        problems.append("the Python host's tables differ between threads 1 and 2")
    return runs[0], problems


def _range(s):
    a, _, b = s.partition("-")
    return range(int(a), int(b or a) + 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("world")
    w.add_argument("seed", type=int)
    w.add_argument("--python", action="store_true")
    pl = sub.add_parser("play")
    pl.add_argument("--sim", required=True)
    pl.add_argument("--worlds", default="1-20")
    pl.add_argument("--seeds", type=int, default=3, help="simulator seeds a world (the noise of the net check)")
    pl.add_argument("--max-customers", type=int, default=200000)
    pl.add_argument("--slow-max-customers", type=int, help="--max-customers under valgrind and TSan (the test "
                    "setups' ENG_TEST_SLOW)")
    pl.add_argument("--gap", type=float, default=None, help="fail a world whose shortfall less 2 s.e. exceeds "
                    "this share of the oracle's net value")
    pl.add_argument("--python", help="libengage.so: also play from Python through the binding")
    pl.add_argument("--python-worlds", default="1-2")
    pl.add_argument("--keep", help="write every world file here")
    a = ap.parse_args(argv)
    if a.cmd == "world":
        sys.stdout.write(gen(a.seed, a.python))
        return 0
    if a.slow_max_customers and os.environ.get("ENG_TEST_SLOW", "0") not in ("", "0"):
        a.max_customers = min(a.max_customers, a.slow_max_customers)
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
        return play(a, a.keep)
    with tempfile.TemporaryDirectory(prefix="genworld-") as tmp:
        return play(a, tmp)


def play(a, tmp):
    bad, rows = 0, []
    for ws in _range(a.worlds):
        text = gen(ws)
        cust = int(re.search(r"^customers (\d+)", text, re.M).group(1))
        if cust > a.max_customers:
            text = text.replace(f"customers {cust}\n", f"customers {a.max_customers}\n")
        path = os.path.join(tmp, f"gen{ws}.world")
        with open(path, "w") as f:
            f.write(text)
        nets, problems = [], []
        for s in range(1, a.seeds + 1):
            net, pr = play_c(a.sim, path, s, threads=(0, 2) if s == 1 else (1,))
            problems += [f"seed {s}: {x}" for x in pr]
            if net:
                nets.append(net)
        b = re.search(r"^budget ([0-9.]+)", text, re.M)
        g = gap(nets, float(b.group(1)) if b else 0.0) if nets else (math.nan, math.nan)
        rows.append((g[0] - 2 * g[1], ws, g, nets))
        if a.gap is not None and g[0] - 2 * g[1] > a.gap:
            problems.append(f"xengage below max(0, random_single, priority) by {100 * g[0]:.1f} % of the oracle "
                            f"(s.e. {100 * g[1]:.1f})")
        head = text.splitlines()
        k = sum(1 for l in head if l.startswith("channel "))
        print(f"world {ws}: K {k}, {min(cust, a.max_customers)} customers: shortfall {100 * g[0]:.1f} % of the "
              f"oracle (s.e. {100 * g[1]:.1f})" + "".join(f"\n  PROBLEM {x}" for x in problems), flush=True)
        bad += bool(problems)
    print("\nworst worlds (xengage's shortfall below max(0, random_single, priority) less 2 s.e., share of the "
          "oracle's net value), net values mean over seeds:")
    for lo, ws, g, nets in sorted(rows, key=lambda r: -r[0] if r[0] == r[0] else 0)[:8]:
        mean = {p: sum(n[p] for n in nets) / len(nets) for p in POLICIES.split(",") + ["oracle_budget"]
                if all(p in n for n in nets)} if nets else {}
        print(f"  gen{ws}.world: {100 * g[0]:.1f} % (s.e. {100 * g[1]:.1f}) "
              + " ".join(f"{p} {v:.0f}" for p, v in mean.items()))
    if a.python:
        for ws in _range(a.python_worlds):
            path = os.path.join(tmp, f"py{ws}.world")
            with open(path, "w") as f:
                f.write(gen(ws, python=True))
            s, problems = play_python(a.python, path, 1)
            share = "" if not s else " ".join(f"{k} {v['net']:.0f}" for k, v in s.items())
            print(f"python world {ws}: {share}" + "".join(f"\n  PROBLEM {x}" for x in problems), flush=True)
            bad += bool(problems)
    print(f"{bad} world(s) with problems" + (f"; world files in {tmp}" if a.keep else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
