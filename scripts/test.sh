#!/bin/sh
# The README's test command (and exactly what .ci/run runs): install what is
# missing, then build and run every test suite six ways — gcc, gcc with
# AddressSanitizer + UndefinedBehaviorSanitizer, gcc under valgrind, clang, an
# optimised release build, and gcc with ThreadSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
jobs=2
logs=""

start=$(date +%s)
# Each command is shown with the seconds since the start, so a slow stage is visible in CI logs.
run() { echo "==> [$(( $(date +%s) - start ))s] $*"; "$@"; }

# 1. gcc: every suite (unit, abi, docs, integration, fuzz-corpus replay).
[ -d build ] || run meson setup build
run meson compile -C build -j $jobs
run meson compile -C build docs
run meson test -C build --print-errorlogs --num-processes $jobs
logs="$logs build/meson-logs/testlog.json"

# 2. Sanitizers. -O1 without variable-tracking assignments: gcc's sanitizers at -O2 took
# three times the CPU to compile (one test file 19 s, 4 s this way) and ran the tests no faster;
# -O1 also brings gcc's warnings at another optimisation level.
[ -d build-asan ] || run meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Ddocs=false \
    -Doptimization=1 -Dc_args=-fno-var-tracking-assignments
# No separate compile: `meson test` builds only what the chosen suites run (not the benchmarks,
# examples or tools, ~10 % of the objects); the gcc, clang and release builds compile everything.
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    run meson test -C build-asan --print-errorlogs --num-processes $jobs --suite unit --suite fuzz --suite soak
logs="$logs build-asan/meson-logs/testlog.json"

# 3. valgrind memcheck over the unit tests (reuses the gcc build). Not the simulator's
# five-seed ordering check (suite sim, 100 000 simulated customers through the direct driver):
# the engine's X-Engage path runs here through xengage_sim_engine*, and ASan runs the check.
run meson test -C build --setup valgrind --print-errorlogs --num-processes $jobs --suite unit --no-suite sim
logs="$logs build/meson-logs/testlog-valgrind.json"

# 4. clang, warnings as errors.
[ -d build-clang ] || CC=clang run meson setup build-clang -Ddocs=false
run meson compile -C build-clang -j $jobs
run meson test -C build-clang --print-errorlogs --num-processes $jobs --suite unit --suite abi --suite fuzz
logs="$logs build-clang/meson-logs/testlog.json"

# 5. Release build (-O3 finds other warnings), unit suite.
[ -d build-release ] || run meson setup build-release -Dbuildtype=release -Ddocs=false
run meson compile -C build-release -j $jobs
run meson test -C build-release --print-errorlogs --num-processes $jobs --suite unit
logs="$logs build-release/meson-logs/testlog.json"

# 6. ThreadSanitizer (gcc: its runtime links into the shared library), unit suite and corpora.
[ -d build-tsan ] || run meson setup build-tsan -Db_sanitize=thread -Db_lundef=false -Ddocs=false \
    -Dc_args=-fno-var-tracking-assignments
run meson test -C build-tsan --setup tsan --print-errorlogs --num-processes $jobs --suite unit --suite fuzz
logs="$logs build-tsan/meson-logs/testlog-tsan.json"

# shellcheck disable=SC2086
python3 scripts/test_summary.py $logs
echo "==> [$(( $(date +%s) - start ))s] done"
