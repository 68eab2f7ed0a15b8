#!/bin/sh
# Line and branch coverage of src/ by the default test suites (unit, fuzz-corpus
# replay, conformance), per layer, with gcovr. Opt-in (not part of scripts/test.sh):
#     sh scripts/coverage.sh            # summary table per layer
#     sh scripts/coverage.sh --html     # also build-cov/coverage/index.html, per file and line
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
[ -d build-cov ] || meson setup build-cov -Db_coverage=true -Ddocs=false
meson compile -C build-cov -j 2
find build-cov -name '*.gcda' -delete
meson test -C build-cov --num-processes 2 --suite unit --suite fuzz --suite conformance --suite abi >/dev/null || {
    echo "tests failed: see build-cov/meson-logs/testlog.txt"; exit 1; }
gcovr -r . --object-directory build-cov --filter 'src/' --json build-cov/coverage.json -j 2
python3 scripts/coverage_layers.py build-cov/coverage.json
if [ "${1:-}" = "--html" ]; then
    mkdir -p build-cov/coverage
    gcovr -r . --object-directory build-cov --filter 'src/' --html-details build-cov/coverage/index.html
    echo "per-line report: build-cov/coverage/index.html"
fi
