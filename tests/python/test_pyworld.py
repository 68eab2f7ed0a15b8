"""A world played against the engine from Python (tools/xengage-sim/pyworld.py, issue 12).

The world-file tests run in the default suite (milliseconds): the shipped worlds parse, the default
world file says what the player's defaults say, and every bad line's error names its file, line and
field. The plays (about 10 s of CPU each: X-Engage needs a test group of 100,000) run when
ENG_PYWORLD_PLAY=1, as `meson test -C build --benchmark python_pyworld` sets it: the eight-channel
world of tools/xengage-sim/worlds, and only orderings with wide margins; then one wave under a credit
cap."""
import contextlib
import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "..", "tools", "xengage-sim")
WORLDS = os.path.join(SIM, "worlds")
sys.path.insert(0, SIM)
import pyworld  # noqa: E402


def world(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".world", delete=False)
    f.write(text)
    f.close()
    return f.name


class WorldFiles(unittest.TestCase):
    GOOD = "channel email 0.9 0.03 0.2 0.02 0.97 12 36\n"

    def error(self, text):
        path = world(text)
        try:
            with self.assertRaises(pyworld.WorldError) as cm:
                pyworld.load_params(path)
            msg = str(cm.exception)
            self.assertTrue(msg.startswith(path), msg)
            return msg[len(path):]
        finally:
            os.unlink(path)

    def test_shipped_worlds(self):
        for name in sorted(os.listdir(WORLDS)):
            p = pyworld.load_params(os.path.join(WORLDS, name))
            self.assertEqual(sorted(p.priority), list(range(p.k)), name)
        # The default world file states the defaults of world.c: the player's must be the same.
        d, f = pyworld.Params(), pyworld.load_params(os.path.join(WORLDS, "default.world"))
        for key in pyworld._UNSIGNED + pyworld._DOUBLE:
            self.assertEqual(getattr(d, key), getattr(f, key), key)
        self.assertEqual([vars_of(c) for c in d.ch], [vars_of(c) for c in f.ch])
        self.assertEqual(d.priority, f.priority)
        e = pyworld.load_params(os.path.join(WORLDS, "eight.world"))
        self.assertEqual((e.k, e.segments, e.waves, e.history, e.control), (8, 8, 2, 2, 0.05))
        self.assertEqual([e.ch[c].name for c in e.priority[:3]], ["sms", "email", "whatsapp"])
        self.assertEqual(e.ch[6].name, "inapp")
        self.assertEqual(e.ch[6].cost, 0.0)
        self.assertEqual(e.batches, 10)  # not in the file: the default

    def test_errors_name_the_field(self):
        g = self.GOOD
        self.assertEqual(self.error("channel email 1.5 0.03 0.2 0.02 0.97 12 36\n"),
                         ":1: channel: reach must be in [0, 1]")
        self.assertEqual(self.error(g + "channel sms 0.9 -1 0.2 0.02 0.97 12 36\n"), ":2: channel: cost must be >= 0")
        self.assertIn("qbar", self.error("channel email 0.9 0.03 1.0 0.02 0.97 12 36\n"))
        self.assertIn("conv must be in [0, 1]", self.error("channel email 0.9 0.03 0.2 2 0.97 12 36\n"))
        self.assertIn("delivery must be in [0, 1]", self.error("channel email 0.9 0.03 0.2 0.02 1.2 12 36\n"))
        self.assertIn("delay_h must be >= 0", self.error("channel email 0.9 0.03 0.2 0.02 0.9 -1 36\n"))
        self.assertIn("window_h must be > 0", self.error("channel email 0.9 0.03 0.2 0.02 0.97 12 0\n"))
        self.assertIn("7 numbers after the name", self.error("channel email 0.9 0.03 0.2\n"))
        self.assertIn("7 numbers after the name", self.error("channel email 0.9 x 0.2 0.02 0.97 12 36\n"))
        self.assertIn("more than 16 channels", self.error(
            "".join(g.replace("email", f"ch{i}") for i in range(17))))
        self.assertTrue(self.error("# comment\nsegmnts 4\n").startswith(":2: bad line 'segmnts'"))
        self.assertTrue(self.error("waves 2\nsegments -1\n").startswith(":2: bad line 'segments'"))
        self.assertTrue(self.error("organic x\n").startswith(":1: bad line 'organic'"))
        self.assertTrue(self.error("outage pigeon 2 0.1\n").startswith(":1: outage names 'pigeon', not a channel"))
        self.assertTrue(self.error("outage sms\n").startswith(":1: bad line 'outage'"))
        self.assertIn(":2: channel: a channel name given twice", self.error(g + g))
        self.assertTrue(self.error("drift 2 1.5\n").startswith(":1: bad line 'drift'"))
        self.assertIn("priority names 'sms'", self.error(g + "priority email sms\n"))
        self.assertIn("priority names 'email'", self.error(g + "channel sms 0.9 0 0.2 0.02 1 1 3\npriority email email\n"))
        self.assertIn("priority must list every channel once",
                      self.error(g + "channel sms 0.9 0 0.2 0.02 1 1 3\npriority email\n"))
        self.assertIn("history_channels names 'pigeon'", self.error("history_channels email pigeon\n"))
        self.assertIn("history_channels must name at least one channel", self.error("history_channels\n"))
        self.assertIn("segments 1..4096", self.error("batches 51\n"))
        self.assertIn("control < 1", self.error("control 1\n"))
        with self.assertRaises(pyworld.WorldError) as cm:
            pyworld.load_params("/nonexistent/x.world")
        self.assertIn("/nonexistent/x.world: cannot open", str(cm.exception))

    def test_events_and_overrides(self):
        path = world("waves 6\noutage sms 3 0.2 2\ndrift 4 0.3\ncustomers 120000\nbudget 0.3\n")
        try:
            p = pyworld.load_params(path)
        finally:
            os.unlink(path)
        self.assertEqual(p.events, [(0, 3, 1, 0.2, 2), (1, 4, -1, 0.3, 1)])
        # an outage may name any of the file's channels, before or after their lines (genworld found
        # world.c refusing the seventh and later ones, and outages placed before the channels)
        names = ["sms", "email", "push", "whatsapp", "viber", "rcs", "inapp", "line"]
        chans = "".join(f"channel {n} 0.9 0.1 0.2 0.02 1 1 3\n" for n in names)
        path = world("waves 3\noutage line 2 0 1\n" + chans + "outage inapp 1 0.5\n")
        try:
            self.assertEqual(pyworld.load_params(path).events, [(0, 2, 7, 0.0, 1), (0, 1, 6, 0.5, 1)])
        finally:
            os.unlink(path)
        self.assertEqual((p.waves, p.customers, p.budget, p.k), (6, 120000, 0.3, 6))
        self.assertIsNone(p.history_channels)  # every channel
        path = world("history_channels whatsapp email\n")
        try:
            self.assertEqual(pyworld.load_params(path).history_channels, [0, 3])
        finally:
            os.unlink(path)

    def test_refusals_before_playing(self):
        """What the player refuses names the reason: a channel the engine lacks (with the engine's
        channels), a test group under the seed's 100,000."""
        for text, args, words in (("channel pigeon 0.9 0.03 0.2 0.02 0.97 12 36\n", [], ["'pigeon'", "sms email"]),
                                  ("", ["--customers", "50000"], ["test group of 100000", "--customers"]),
                                  ("segments 0\n", [], ["segments 1..4096"])):
            path, err = world(text), io.StringIO()
            try:
                with contextlib.redirect_stderr(err):
                    self.assertEqual(pyworld.main(["--world", path] + args), 2)
            finally:
                os.unlink(path)
            for w in words:
                self.assertIn(w, err.getvalue())

    def test_reachable_test_group(self):
        """The seed's minimum counts reachable customers: a world where most customers are reachable on no
        channel is refused before any engine is built, naming the reachable count (not a ValidationError
        from the engine after the history was replayed)."""
        path, err = world("channel email 0.05 0.03 0.2 0.02 0.97 12 36\nsegments 1\ncontrol 0.05\n"), io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                self.assertEqual(pyworld.main(["--world", path, "--customers", "110000"]), 2)
        finally:
            os.unlink(path)
        self.assertIn("100000 reachable customers", err.getvalue())
        self.assertIn("of 110000 are reachable", err.getvalue())

    def test_greedy_engagement(self):
        """greedy_engagement (sim.c's greedy_pick) against its definition: the best ratio of engaged to
        delivered among reachable channels with data once the customer has 3 messages on 2 channels, ties to
        the latest open, else the first reachable channel of the priority order; its outcomes count."""
        p = pyworld.Params()
        p.customers, p.segments = 40, 1
        pl = pyworld.Player(None, p, 3, {"priority"})
        w = pl.w
        email, sms, push, wa = 0, 1, 2, 3
        for i in range(40):
            w.reach[i] = 0b1111
        hist = [[None] * 40 for _ in range(3)]
        hist[0][0], hist[1][0], hist[2][0] = (email, 3), (sms, 1), (sms, 3)  # email 1/1, sms 1/2: email
        hist[0][1], hist[1][1] = (email, 3), (sms, 3)  # 2 messages only: the priority order (sms first)
        hist[0][2], hist[1][2], hist[2][2] = (email, 3), (sms, 3), (push, 1)  # a tie at 1: the later open
        hist[0][3], hist[1][3], hist[2][3] = (email, 1), (sms, 1), (push, 1)  # nothing engaged: priority
        hist[0][4], hist[1][4], hist[2][4] = (wa, 3), (email, 3), (email, 1)  # whatsapp, but unreachable now
        pl.greedy_start(hist)
        w.reach[4] = 0b0111
        self.assertEqual([pl.greedy_pick(i) for i in range(5)], [email, sms, sms, sms, email])
        self.assertEqual((pl.g_recv[2], pl.g_eng[2], pl.g_last[2]), ([1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0],
                                                                     [0, 1, -1, -1, -1, -1]))
        before = [sum(r) for r in pl.g_recv]
        choice = pl.greedy_wave(list(range(40)))
        self.assertEqual(choice[0], email)
        delivered = sum(sum(r) for r in pl.g_recv) - sum(before)
        self.assertGreater(delivered, 20)  # its own sends are delivered at the world's rates (about 0.9)
        self.assertTrue(all(sum(pl.g_recv[i]) - before[i] <= 1 for i in range(40)))

    def test_world_truth(self):
        """The truth the policies are scored by, against its definition on a tiny world."""
        p = pyworld.Params()
        p.customers, p.segments = 300, 2
        w = pyworld.World(p, 5)
        for i in range(0, 300, 37):
            for c in range(p.k):
                t = w.d[c] * w.q[i][c] * w.pi[w.seg[i]][c]
                self.assertAlmostEqual(w.tau(i, c), t * (1 - w.p0[i]))
                incr, m, cost, net = w.expect(i, [c])
                self.assertAlmostEqual(incr, w.tau(i, c))
                self.assertAlmostEqual(net, w.value[i] * incr - p.ch[c].cost)
            both = w.expect(i, [0, 1])
            t0, t1 = (w.d[c] * w.q[i][c] * w.pi[w.seg[i]][c] for c in (0, 1))
            pr = min(1, max(t0, t1) + p.overlap * min(t0, t1))
            self.assertAlmostEqual(both[0], (1 - w.p0[i]) * pr)
            self.assertAlmostEqual(both[3], w.value[i] * both[0] - p.ch[0].cost - p.ch[1].cost - p.fatigue)
            o = w.oracle(i)
            best = max([w.value[i] * w.tau(i, c) - p.ch[c].cost for c in range(p.k) if w.reach[i] >> c & 1] + [0])
            self.assertAlmostEqual(best, w.value[i] * w.tau(i, o) - p.ch[o].cost if o >= 0 else 0)


    def test_zero_value_orders(self):
        """value_mean 0 (genworld.py draws it): every order is worth 0, as world.c's truth gives, and the host's
        purchases of 0 reach the engine (the player raised a math domain error building such a world)."""
        import engage
        p = pyworld.Params()
        p.customers, p.value_mean, p.history = 300, 0.0, 1
        pl = pyworld.Player(engage, p, 3, {"priority"})
        self.assertEqual(set(pl.w.value), {0.0})
        h = pyworld.Host(engage, pl.w, pl.chunk, 1)  # its earlier purchases: every tenth customer's, of 0
        self.assertEqual([t["amount"] for t in h.eng.transactions("sim", "c0")], [0])
        self.assertEqual(pl.w.oracle(0), -1)  # nothing is worth a cost when orders are worth nothing

    def test_cost_two_readings(self):
        """Credits and credits + fatigue (print_cost, cost_target) against a brute-force count over the
        customers: send_all pays every reachable channel's cost and fatigue x (channels - 1), a single
        channel no fatigue; the target's verdict on each reading from those sums."""
        p = pyworld.Params()
        p.customers, p.segments = 400, 2
        pl = pyworld.Player(None, p, 4, {"priority"})
        w, test = pl.w, list(range(0, 400, 3))
        first = {i: next(c for c in p.priority if w.reach[i] >> c & 1) for i in test if w.reach[i]}
        res = {k: [] for k in ("send_all", "random_single", "greedy_engagement", "oracle")}
        for wave in (1, 2):
            w.wave(wave)
            pl.score(res, test, None, None, first)
        s = pyworld.summarize(res)
        credits = fatigue = 0.0
        for i in test:
            chans = [c for c in range(p.k) if w.reach[i] >> c & 1]
            credits += sum(p.ch[c].cost for c in chans)
            fatigue += p.fatigue * max(0, len(chans) - 1)
        self.assertAlmostEqual(s["send_all"]["cost"], 2 * credits)
        self.assertAlmostEqual(s["send_all"]["fatigue"], 2 * fatigue)
        self.assertGreater(fatigue, credits)  # the default world: fatigue is most of send_all's cost
        g = pyworld.cost_target(s)
        for k in ("random_single", "greedy_engagement", "oracle"):
            self.assertEqual(s[k]["fatigue"], 0)
            self.assertAlmostEqual(g[k]["credits"], 100 * s[k]["cost"] / (2 * credits))
            self.assertAlmostEqual(g[k]["total"], 100 * s[k]["cost"] / (2 * credits + 2 * fatigue))
            self.assertAlmostEqual(g[k]["incr"], 100 * s[k]["incr"] / s["send_all"]["incr"])
            for r in ("credits", "total"):
                self.assertEqual(g[k][r + "_met"], g[k]["incr"] >= 65 and g[k][r] <= 15)
        self.assertTrue(g["oracle"]["incr"] >= 65 and g["oracle"]["total"] < g["oracle"]["credits"] / 2)
        out = io.StringIO()
        pyworld.print_cost(out, s)
        row = [r for r in out.getvalue().splitlines() if r.startswith("| send_all |")][0].split("|")
        self.assertEqual(row[4].strip(), f"{2 * (credits + fatigue):.0f}")


class AdHistory(unittest.TestCase):
    def test_replay_reaches_ad_channels(self):
        """The warm history of an ad channel is replayed as plain messages with ad creatives: every
        history row on facebook leaves through the ad export (mapped back to its customer) and its
        delivery and open receipts land in the engine's touch log, as the e-mail rows do. Against the
        history itself (an independent count); 300 customers, well under a second."""
        import engage
        path = world("channel email 0.8 0.03 0.2 0.03 0.97 12 36\nchannel facebook 0.9 0.01 0.05 0.02 0.95 24 144\n"
                     "segments 2\nhistory 2\npriority facebook email\n")
        try:
            p = pyworld.load_params(path)
        finally:
            os.unlink(path)
        p.customers = 300
        pl = pyworld.Player(engage, p, 5, {"priority"})
        hist = pl.history()
        h = pyworld.Host(engage, pl.w, pl.chunk, len(hist))
        exported = []
        export = h._ad_export
        h.eng.set_ad_export(lambda m, hashes: exported.extend(h.ads[x] for x in hashes) or export(m, hashes))
        pl.replay_history(h, hist)
        fb = [c.name for c in p.ch].index("facebook")
        want = sorted(i for row in hist for i, x in enumerate(row) if x and x[0] == fb)
        self.assertGreater(len(want), 200)  # about 0.9 x 300 x 2 x a half
        self.assertEqual(sorted(exported), want)
        # the touch log: per customer and channel, the furthest status of each replayed send
        seen, expect = {}, {}
        rank = {"sent": 0, "delivered": 1, "opened": 2}
        for i in range(p.customers):
            for t in h.eng.touches("sim", i):
                k = (i, t["channel"], t["message"])
                if t["status"] in rank:
                    seen[k] = max(seen.get(k, 0), rank[t["status"]])
        got = {}
        for (i, ch, _), r in seen.items():
            got.setdefault((i, ch), []).append(r)
        for row in hist:
            for i, x in enumerate(row):
                if x:
                    expect.setdefault((i, p.ch[x[0]].name), []).append(2 if x[1] & 2 else 1 if x[1] & 1 else 0)
        self.assertEqual({k: sorted(v) for k, v in got.items()}, {k: sorted(v) for k, v in expect.items()})
        self.assertTrue(any(ch == "facebook" and 2 in v for (i, ch), v in expect.items()))


class SalesHistory(unittest.TestCase):
    def test_sales_reach_the_engine(self):
        """sales_history_weeks: each customer's organic purchases over the weeks before the campaign (a Poisson
        count of mean weeks x the per-wave rate, 168 h waves here) and the warm history's conversions (engaged
        sends only, after their send), handed to the engine at their own times with order_sd spread amounts.
        Against the world's own rates (an independent expectation) and the engine's transaction scan;
        2,000 customers, well under a second of the world's draws."""
        import engage
        path = world("channel email 0.9 0.03 0.3 0.3 0.97 12 36\nchannel sms 0.9 0.1 0.2 0.3 0.95 1 3\n"
                     "segments 2\nhistory 2\nsales_history_weeks 52\norder_sd 0.5\norganic 0.03\n")
        try:
            p = pyworld.load_params(path)
        finally:
            os.unlink(path)
        self.assertEqual((p.sales_history_weeks, p.order_sd), (52, 0.5))
        p.customers = 2000
        pl = pyworld.Player(engage, p, 3, {"priority"})
        hist = pl.history()
        sales = pl.sales()
        self.assertEqual(sales, sorted(sales))
        self.assertTrue(all(-52 * 168 <= t < 0 for t, _ in sales))
        # the warm conversions: each after an engaged send of its customer, about pi of the engaged ones
        engaged = {i for m, row in enumerate(hist) for i, x in enumerate(row) if x and x[1] & 2}
        self.assertTrue(pl.warm_sales and all(i in engaged for _, i in pl.warm_sales))
        organic = len(sales) - len(pl.warm_sales)
        want = sum(-52 * math_log1p(-q) for q in pl.w.p0)  # Poisson means: rate per hour x 52 x 168 h
        self.assertLess(abs(organic - want), 5 * want ** 0.5)
        h = pyworld.Host(engage, pl.w, pl.chunk, len(hist))
        self.assertEqual(list(h.eng.transactions("sim")), [])  # no one-day value orders with a sales history
        h.load_sales(sales)
        got = list(h.eng.transactions("sim"))
        self.assertEqual(sorted((t["time"], t["customer"]) for t in got),
                         sorted((h.at(t), f"c{i}") for t, i in sales))
        amounts = [float(t["amount"]) / pl.w.value[int(t["customer"][1:])] for t in got]
        mean = sum(amounts) / len(amounts)
        self.assertLess(abs(mean - 1), 0.05)  # orders spread around the customer's value, mean 1
        self.assertGreater(max(amounts) / min(amounts), 3)


def math_log1p(x):
    import math
    return math.log1p(x)


def vars_of(c):
    return tuple(getattr(c, s) for s in c.__slots__)


@unittest.skipUnless(os.environ.get("ENG_PYWORLD_PLAY"), "the play runs with ENG_PYWORLD_PLAY=1 (meson test --benchmark)")
class Play(unittest.TestCase):
    def test_eight_channels(self):
        import engage
        p = pyworld.load_params(os.path.join(WORLDS, "eight.world"))
        p.customers = 106000
        res, ope, timing = pyworld.Player(engage, p, 3, {"xengage", "priority"}).play()
        s = pyworld.summarize(res)
        net = {k: v["net"] for k, v in s.items()}
        print(f"\nnet value: {net}; share of oracle: { {k: round(v['share'], 3) for k, v in s.items()} }; "
              f"CPU {timing}", file=sys.stderr)
        self.assertEqual(len(res["xengage"]), 2)
        # One channel or none per customer: as many messages as contacted customers, never more than the oracle's
        # test group; send_all sends every reachable channel.
        self.assertEqual(s["xengage"]["msgs"], s["xengage"]["contacted"])
        self.assertGreater(s["send_all"]["msgs"], 3 * s["xengage"]["msgs"])
        self.assertGreater(net["xengage"], 1.05 * net["send_all"])
        self.assertGreater(net["xengage"], 1.2 * net["priority"])
        self.assertGreater(net["xengage"], 1.5 * net["random_single"])
        self.assertLess(net["xengage"], net["oracle"])
        # It learns during the campaign: the second wave is nearer the oracle than the first.
        self.assertGreater(s["xengage"]["wave_share"][1], s["xengage"]["wave_share"][0])
        self.assertIsNotNone(ope[-1]["xengage"])

    def test_credit_cap(self):
        """The world's budget as each wave's credit cap: the engine charges within it, and what it charged
        is the world's cost of the channels the player saw leave (an independent count)."""
        import engage
        p = pyworld.load_params(os.path.join(WORLDS, "eight.world"))
        p.customers, p.waves, p.budget = 106000, 1, 0.2
        res, ope, timing = pyworld.Player(engage, p, 4, {"xengage"}).play()
        (c,) = timing["credits"]
        x, o = res["xengage"][0], res["oracle_budget"][0]
        self.assertLessEqual(c["charged"], c["cap"])
        self.assertGreater(c["charged"], 0.95 * c["cap"])  # a cap under the oracle's spend binds
        self.assertLess(o["cost"], res["oracle"][0]["cost"])
        self.assertAlmostEqual(x["cost"], c["charged"], delta=0.01)
        print(f"\ncapped: {c}, xengage {x}, oracle_budget {o}, random {res['random_single'][0]}", file=sys.stderr)
        self.assertGreater(x["net"], 1.2 * res["random_single"][0]["net"])


# The unseen worlds of tools/xengage-sim/worlds (docs/xengage.md, "Unseen worlds (2026-12-07 night)"), the
# customers each needs for a test group of 100,000 reachable customers. About 130 s of CPU in all.
UNSEEN = (("dear", 106000), ("freepoor", 110000), ("k15", 106000), ("lossy", 110000), ("outage", 106000),
          ("seg64", 106000), ("seg1", 106000), ("onehist", 106000))


@unittest.skipUnless(os.environ.get("ENG_PYWORLD_UNSEEN"),
                     "the unseen worlds play with ENG_PYWORLD_UNSEEN=1 (meson test --benchmark python_pyworld_unseen)")
class PlayUnseen(unittest.TestCase):
    """Worlds unlike ours through the public API, seed 1: every play finishes without an error from the
    engine, X-Engage sends one channel or none per customer, and beats random_single's net value (the one
    ordering with a wide margin in every world with history; seg1, cold and one wave, is played for errors
    only: seeds 2 and 3 fall below random there, docs/xengage.md "Unseen worlds")."""

    def play(self, name, customers, **over):
        import engage
        p = pyworld.load_params(os.path.join(WORLDS, name + ".world"))
        p.customers = customers
        for k, v in over.items():
            setattr(p, k, v)
        res, ope, timing = pyworld.Player(engage, p, 1, {"xengage", "priority"}).play()
        s = pyworld.summarize(res)
        print(f"\n{name}: net {({k: round(v['net']) for k, v in s.items()})}, share of oracle "
              f"{({k: v['share'] and round(v['share'], 3) for k, v in s.items()})}, CPU {timing}", file=sys.stderr)
        self.assertEqual(len(res["xengage"]), p.waves)
        self.assertEqual(s["xengage"]["msgs"], s["xengage"]["contacted"])
        return s, timing

    def test_worlds(self):
        for name, customers in UNSEEN:
            with self.subTest(world=name):
                s, _ = self.play(name, customers)
                if name == "seg1":
                    continue
                self.assertGreater(s["xengage"]["net"], s["random_single"]["net"] + 0.1 * abs(s["random_single"]["net"]))
                if name == "dear":  # every channel loses money: it sends almost nothing
                    self.assertLess(s["xengage"]["msgs"], 0.1 * s["priority"]["msgs"])
                    self.assertGreater(s["xengage"]["net"], 0.1 * s["priority"]["net"])

    def test_caps(self):
        """A cap of a fifth of send_all's cost with 15 channels (four of them ads), and with a free channel."""
        for name, customers in (("k15", 106000), ("freepoor", 110000)):
            with self.subTest(world=name):
                s, timing = self.play(name, customers, waves=1, budget=0.2)
                (c,) = timing["credits"]
                self.assertLessEqual(c["charged"], c["cap"])
                self.assertAlmostEqual(s["xengage"]["cost"], c["charged"], delta=0.01)

    def test_tiny_is_refused(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(pyworld.main(["--world", os.path.join(WORLDS, "tiny.world")]), 2)
        self.assertIn("test group of 100000", err.getvalue())


def capped(s, policy, budget):
    """genworld.py's capped(): a baseline held to a credit cap of @p budget x send_all's credits keeps that share of
    its sends (the engine cuts at the cap in the audience's order, customers drawn regardless of their worth)."""
    share = s[policy]["cost"] / s["send_all"]["cost"] if s["send_all"]["cost"] > 0 else 0.0
    return s[policy]["net"] * min(1.0, budget / share) if budget and share > 0 else s[policy]["net"]


def play_world(name, customers, seed, policies=("xengage",), **over):
    """World @p name of tools/xengage-sim/worlds played through the binding as a host would: (summary, timing)."""
    import engage
    p = pyworld.load_params(os.path.join(WORLDS, name + ".world"))
    p.customers = customers
    for k, v in over.items():
        setattr(p, k, v)
    res, _, timing = pyworld.Player(engage, p, seed, set(policies)).play()
    s = pyworld.summarize(res)
    print(f"\n{name} seed {seed} {over}: net {({k: round(v['net']) for k, v in s.items()})}, CPU {timing}",
          file=sys.stderr)
    return s, timing


class WideWorld(unittest.TestCase):
    """Twelve channels unlike ours (a free one, a call task dearer than most orders, a channel almost nobody is
    reachable on, answers slower than the waves; docs/xengage.md "(2026-12-08, small hours)") through the binding,
    one capped wave of seed 1 in the default suite (about 10 s of CPU: X-Engage's test group of 100,000 is the
    least a host can play): only orderings with wide margins. The player raises if a customer gets two sends or a
    send leaves to a customer outside the test group or on a channel they cannot be reached on."""

    def test_capped_wave(self):
        budget = 0.04  # about half of what X-Engage spends uncapped: the cap binds
        s, timing = play_world("wide", 108000, 1, waves=1, budget=budget)
        (c,) = timing["credits"]
        self.assertLessEqual(c["charged"], c["cap"])
        self.assertGreater(c["charged"], 0.9 * c["cap"])
        self.assertAlmostEqual(s["xengage"]["cost"], c["charged"], delta=0.01)
        self.assertEqual(s["xengage"]["msgs"], s["xengage"]["contacted"])
        # the baselines held to the same cap; priority sends the dear call task first and loses money
        self.assertGreater(s["xengage"]["net"], 1.5 * max(0.0, capped(s, "random_single", budget)))
        self.assertGreater(s["xengage"]["net"], max(0.0, capped(s, "priority", budget)))
        self.assertLess(s["xengage"]["net"], s["oracle_budget"]["net"])


# Worlds of our own that differ more (docs/xengage.md "(2026-12-08, small hours)"): twelve channels with cost
# extremes (wide), ten whose answers come after the next wave (late), fourteen with three dear ones worth it only
# for customers of high value and history on half of them (extremes). About 20 s of CPU a play.
NEW_WORLDS = (("wide", 110000), ("late", 108000), ("extremes", 110000))


@unittest.skipUnless(os.environ.get("ENG_PYWORLD_NEW"),
                     "the new worlds play with ENG_PYWORLD_NEW=1 (meson test --benchmark python_pyworld_new)")
class PlayNewWorlds(unittest.TestCase):
    """Every wave of each world, seeds 1-3, uncapped: per seed, X-Engage's net value above priority's (played on its
    own engine) and random_single's, one channel or none per customer."""

    def test_worlds(self):
        for name, customers in NEW_WORLDS:
            for seed in (1, 2, 3):
                with self.subTest(world=name, seed=seed):
                    s, _ = play_world(name, customers, seed, ("xengage", "priority"))
                    self.assertEqual(s["xengage"]["msgs"], s["xengage"]["contacted"])
                    self.assertGreater(s["xengage"]["net"], s["priority"]["net"])
                    self.assertGreater(s["xengage"]["net"], s["random_single"]["net"])
                    self.assertGreater(s["xengage"]["net"], 0)


if __name__ == "__main__":
    unittest.main()
