#!/bin/sh
# Fuzz soak (opt-in, not part of scripts/test.sh): every libFuzzer target with
# the *library* instrumented too (clang, -fsanitize=fuzzer-no-link, address +
# undefined), each for a set time from its checked-in corpus, new inputs kept in
# build-fuzz/corpus/<target>. Prints executions per target; a finding stops the
# run with its input saved in build-fuzz/findings/. FUZZ_RUNS=N also stops each
# target after N executions (whichever comes first); targets run one at a time
# on one core, at the priority of the caller (use nice -n 10 on a shared machine).
# -entropic=0: libFuzzer's default entropic schedule keeps every feature on its
# "rare" list until new features arrive and searches that list for each feature
# of each execution (quadratic in features); with the whole library instrumented
# (10^4 features) that was 68-87 % of the time of the engine-level targets.
# FUZZ_ARGS adds libFuzzer flags (FUZZ_ARGS=-entropic=1 brings it back).
#   sh tests/fuzz/soak.sh [seconds-per-target] [target ...]   (default 600, all)
#   FUZZ_RUNS=10000000 nice -n 10 sh tests/fuzz/soak.sh 3600 rules
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-"rules csv txn receipts template filestore records api"}
if [ ! -d build-fuzz ]; then
    # coverage-ignore.txt: leaf loops (checksums, hashes, bitmap words) left out of the
    # coverage instrumentation, still under ASan and UBSan (records 1.25x faster)
    CC=clang meson setup build-fuzz -Ddocs=false -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args="-fsanitize=fuzzer-no-link -fsanitize-coverage-ignorelist=$PWD/tests/fuzz/coverage-ignore.txt" \
        -Dfuzzing=true
fi
[ -n "${FUZZ_NOBUILD:-}" ] || meson compile -C build-fuzz -j 2 # FUZZ_NOBUILD=1: the binaries as built
mkdir -p build-fuzz/findings
for t in $targets; do
    mkdir -p "build-fuzz/corpus/$t"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    log="build-fuzz/soak-$t.log"
    # shellcheck disable=SC2086
    if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
        "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -max_len=4096 -entropic=0 -print_final_stats=1 ${FUZZ_ARGS:-} $dict \
        -artifact_prefix="build-fuzz/findings/$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
        tail -n 30 "$log"
        echo "FINDING in $t: see build-fuzz/findings/ and $log"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    took=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
    echo "$t: $runs executions in ${took:-$secs}s, $cov, no finding"
done
