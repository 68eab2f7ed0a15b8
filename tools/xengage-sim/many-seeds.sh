#!/bin/sh
# The M-size comparison over many seeds, one seed per process (opt-in; docs/xengage.md).
# An M seed through the engine takes about 6.5 min and 2 GB, so each runs under the machine's big
# lock and writes its own table; a seed whose table exists is not run again (the run resumes).
# Then the per-seed figures of xengage are summarised: share of the oracle in wave 1 and in
# waves 2-W, net value against priority and greedy, incremental conversions and cost against
# send_all (credits, and credits + fatigue), mean [95 % interval], median and min over the seeds.
#
#   tools/xengage-sim/many-seeds.sh SIM OUTDIR FIRST LAST [xengage-sim options...]
#   e.g. tools/xengage-sim/many-seeds.sh build/tools/xengage-sim/xengage-sim m-runs 1 20 \
#          --world tools/xengage-sim/worlds/default.world --size M --driver engine
set -eu
[ $# -ge 4 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
sim=$1 out=$2 first=$3 last=$4
shift 4
lock=${XSIM_LOCK:-/work/wt/.big.lock}
mkdir -p "$out"
s=$first
while [ "$s" -le "$last" ]; do
    if [ ! -s "$out/seed-$s.txt" ]; then
        flock "$lock" "$sim" "$@" --seeds 1 --seed0 "$s" > "$out/seed-$s.part"
        mv "$out/seed-$s.part" "$out/seed-$s.txt"
    fi
    s=$((s + 1))
done
# The xengage row of each seed's first table: | xengage | w1 % [..] | w2-W % [..] | all | net | vs priority
# (min) | vs greedy (min) | incr vs send_all % | cost vs send_all % | ..., then the cost target's row (its
# credits + fatigue vs send_all; "-" in tables from before it was printed).
for f in "$out"/seed-*.txt; do
    awk -F'|' '/^\| xengage \|/ && !done { gsub(/[%x]/, ""); split($3, a, " "); split($4, b, " ");
        split($7, c, " "); split($8, d, " "); row = a[1] " " b[1] " " c[1] " " d[1] " " \
        ($9 ~ /[0-9]/ ? $9 + 0 : "-") " " ($10 ~ /[0-9]/ ? $10 + 0 : "-"); done = 1 }
        /^the cost target/ { target = 1 } /^$/ { target = 0 }
        target && /^\| xengage \|/ { total = $7 ~ /[0-9]/ ? $7 + 0 : "-" }
        END { if (done) print row, total == "" ? "-" : total }' "$f"
done | awk '
function summary(name, i,   m, v, k, j, t, y) {
    m = sum[i] / n; v = 0
    for (k = 1; k <= n; k++) { v += (x[k, i] - m) ^ 2; y[k] = x[k, i] }
    for (k = 2; k <= n; k++) for (j = k; j > 1 && y[j - 1] > y[j]; j--) { t = y[j]; y[j] = y[j - 1]; y[j - 1] = t }
    v = n > 1 ? sqrt(v / (n - 1) / n) : 0
    printf "| %s | %.2f [%.2f, %.2f] | %.2f | %.2f |\n", name, m, m - 1.96 * v, m + 1.96 * v,
        n % 2 ? y[(n + 1) / 2] : (y[n / 2] + y[n / 2 + 1]) / 2, y[1]
}
{ n++; for (i = 1; i <= 7; i++) { x[n, i] = $i; sum[i] += $i; if ($i == "-") none[i] = 1 } }
END {
    if (!n) { print "no seed tables" > "/dev/stderr"; exit 1 }
    printf "xengage over %d seeds (one process each)\n| figure | mean [95 %% interval] | median | min |\n|---|---|---|---|\n", n
    summary("share of the oracle, wave 1 (%)", 1); summary("share of the oracle, waves 2-W (%)", 2)
    summary("net value vs priority (x)", 3); summary("net value vs greedy (x)", 4)
    if (!none[5] && !none[6]) { # send_all was run
        summary("incremental conversions vs send_all (%)", 5); summary("cost vs send_all (%)", 6)
        # The same target read with the cost net value subtracts (docs/xengage.md, "The cost target on two readings").
        if (!none[7]) summary("credits + fatigue vs send_all (%)", 7)
    }
}'
# Coverage of the off-policy intervals: the simulator-side table (IPW and DR covers, "k / 1" per seed)
# and the engine report's table (DR covers, "k / W (..%)" per seed, and the mean half-width).
for f in "$out"/seed-*.txt; do
    awk -F'|' '/^off-policy estimates/ { sim = 1; eng = 0; next } /^the engine.s campaign report/ { eng = 1; sim = 0; next }
        /^$/ { sim = eng = 0 } sim && $2 ~ /[a-z]/ && $5 ~ /\// { split($5, a, "/"); split($7, b, "/");
            gsub(/ /, "", $2); print "sim", $2, a[1] + 0, a[2] + 0, b[1] + 0 }
        eng && $2 ~ /[a-z]/ && $4 ~ /\// { split($4, a, "[/(]"); gsub(/ /, "", $2); print "eng", $2, a[1] + 0, a[2] + 0, a[1] + 0, $7 * a[2] }' "$f"
done | awk '
{ k = $1 " " $2; n[k] += $4; c1[k] += $3; c2[k] += $5; hw[k] += $6; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k } }
END {
    if (!nk) exit 0
    printf "\noff-policy intervals holding the exact value of their target\n| estimate | target | IPW covers | DR covers | mean half-width |\n|---|---|---|---|---|\n"
    for (i = 1; i <= nk; i++) {
        split(keys[i], a, " "); k = keys[i]
        if (a[1] == "sim")
            printf "| simulator, per seed | %s | %d / %d (%.1f %%) | %d / %d (%.1f %%) | - |\n", a[2], c1[k], n[k], 100 * c1[k] / n[k], c2[k], n[k], 100 * c2[k] / n[k]
        else
            printf "| engine report, per wave | %s | - | %d / %d (%.1f %%) | %.3f |\n", a[2], c2[k], n[k], 100 * c2[k] / n[k], hw[k] / n[k]
    }
}'
