"""Print the slowest tests of each run, then one closing line for all test runs:
'tests: N passed, N failed, N skipped'. The slowest list keeps CI's time budget in view."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    times = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("is_parallel") is None and "result" not in r:
                continue
            times.append((r.get("duration", 0.0), r.get("name", "?")))
            res = r["result"]
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                skipped += 1
            else:
                failed += 1
    times.sort(reverse=True)
    slowest = ", ".join(f"{name.split(' / ')[-1]} {secs:.0f} s" for secs, name in times[:5])
    print(f"{path}: {len(times)} tests, {sum(t for t, _ in times):.0f} test-seconds; slowest: {slowest}")
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
