"""Sum a gcovr JSON report per layer (src/<layer>/): lines and branches covered, and the
least-covered files of each layer, so the closing note can name what is not reached."""
import collections
import json
import sys

with open(sys.argv[1]) as f:
    data = json.load(f)
layers = collections.OrderedDict()
files = []
for fi in data["files"]:
    path = fi["file"]
    parts = path.split("/")
    layer = parts[1] if len(parts) > 2 and parts[0] == "src" else "(top)"
    lt = lc = bt = bc = 0
    for ln in fi["lines"]:
        if ln.get("gcovr/noncode"):
            continue
        lt += 1
        lc += ln["count"] > 0
        for br in ln.get("branches", []):
            bt += 1
            bc += br["count"] > 0
    acc = layers.setdefault(layer, [0, 0, 0, 0])
    for i, v in enumerate((lc, lt, bc, bt)):
        acc[i] += v
    files.append((lc / lt if lt else 1.0, path, lc, lt))

def pct(a, b):
    return f"{100.0 * a / b:5.1f} %" if b else "    - "

order = ["base", "store", "core", "rules", "audience", "model", "events", "decide", "dispatch", "measure"]
keys = [k for k in order if k in layers] + [k for k in layers if k not in order]
tot = [0, 0, 0, 0]
print(f"{'layer':10} {'lines':>9} {'of':>7} {'branches':>9} {'of':>7}")
for k in keys:
    lc, lt, bc, bt = layers[k]
    tot = [a + b for a, b in zip(tot, layers[k])]
    print(f"{k:10} {pct(lc, lt):>9} {lt:7d} {pct(bc, bt):>9} {bt:7d}")
print(f"{'total':10} {pct(tot[0], tot[1]):>9} {tot[1]:7d} {pct(tot[2], tot[3]):>9} {tot[3]:7d}")
print("\nleast-covered files (lines):")
for frac, path, lc, lt in sorted(files)[:12]:
    print(f"  {100 * frac:5.1f} %  {path} ({lt - lc} of {lt} lines not reached)")
