#!/bin/sh
# Line and branch coverage of src/ by the default test suites (unit, fuzz-corpus
# replay, conformance, abi), per layer, with gcovr. Opt-in (not part of scripts/test.sh):
#     sh scripts/coverage.sh            # summary table per layer
#     sh scripts/coverage.sh --unit     # unit + fuzz-corpus replay only (no PostgreSQL, no abi tools)
#     sh scripts/coverage.sh --html     # also build-cov/coverage/index.html, per file and line
# Only the executables those tests run are built (not the benchmarks, examples or
# scale tools), at -O0 (quicker to build, and each line is its own line): 23 minutes
# on two cores at a load average of 18, most of it the build. Counting at -O0 makes
# the heaviest tests several times slower: timeouts are 10x.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
suites="unit fuzz conformance abi"
html=""
for a in "$@"; do
    case "$a" in
    --unit) suites="unit fuzz" ;;
    --html) html=1 ;;
    *) echo "usage: $0 [--unit] [--html]" >&2; exit 2 ;;
    esac
done
if [ -d build-cov ]; then
    meson setup --reconfigure build-cov >/dev/null # the target list below must include new tests
else
    meson setup build-cov -Db_coverage=true -Ddocs=false --buildtype=debug
fi
# The build targets the chosen suites' tests depend on.
targets=$(meson introspect build-cov --tests --targets | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
want = set(sys.argv[1:])
ids = {i for t in d["tests"] if want & {s.split(":")[-1] for s in t["suite"]} for i in t["depends"]}
sub = lambda t: os.path.relpath(os.path.dirname(t["filename"][0]), os.path.abspath("build-cov"))
print(" ".join(os.path.normpath(sub(t) + "/" + t["name"]) + ":" + t["type"].replace(" ", "_") for t in d["targets"] if t["id"] in ids))
' $suites)
# shellcheck disable=SC2086
meson compile -C build-cov -j 2 $targets
find build-cov -name '*.gcda' -delete
args=""
for s in $suites; do args="$args --suite $s"; done
# shellcheck disable=SC2086
meson test -C build-cov --no-rebuild --num-processes 2 --timeout-multiplier 10 $args >/dev/null || {
    echo "tests failed: see build-cov/meson-logs/testlog.txt"; exit 1; }
gcovr -r . --object-directory build-cov --filter 'src/' --json build-cov/coverage.json -j 2
python3 scripts/coverage_layers.py build-cov/coverage.json
if [ -n "$html" ]; then
    mkdir -p build-cov/coverage
    gcovr -r . --object-directory build-cov --filter 'src/' --html-details build-cov/coverage/index.html
    echo "per-line report: build-cov/coverage/index.html"
fi
