#!/bin/sh
# The README's demo, on the given store: it runs to the end, prints the campaign
# report with both messages and every channel, rebuilds the same report after a
# reopen, and writes a self-contained HTML report (inline SVG, nothing fetched).
# usage: check_demo.sh <engage-demo> <file|sqlite>
set -eu
demo=$1 store=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$demo" --store "$store" --dir "$dir" > "$dir/out" 2> "$dir/err" || { cat "$dir/out" "$dir/err"; echo "FAIL: the demo failed"; exit 1; }
fail() { cat "$dir/out"; echo "FAIL: $*"; exit 1; }
for want in "imported 120000 customers" "approved message " "X-Engage message: " \
            "broadcast message: " "  campaign " "channel email" "channel sms" "channel whatsapp" \
            "Launch (X-Engage)" "Gold preview (broadcast)" "control group: " "lift: " "audit chain: verified" \
            "reopened: the same report" "HTML report: "; do
    grep -qF -- "$want" "$dir/out" || fail "the output lacks '$want'"
done
grep -q "\[X-Engage message 100%\]" "$dir/err" || fail "no progress for the execution"
html=$dir/report.html
[ -s "$html" ] || fail "no report.html"
[ "$(grep -o '<svg' "$html" | wc -l)" -eq 3 ] || fail "report.html should hold 3 inline SVG charts"
for want in "Funnel per channel" "Hit rate: test vs control" "X-Engage learning per batch" "95% interval"; do
    grep -qF "$want" "$html" || fail "report.html lacks '$want'"
done
# Self-contained: no script, no external resource of any kind.
if grep -qiE '<script|<link|<img|src=|href=|url\(|@import|https?://' "$html"; then fail "report.html refers to something outside itself"; fi
# Several batches: X-Engage learnt between them.
batches=$(sed -n 's/.*X-Engage learned over \([0-9]*\) batches.*/\1/p' "$dir/out")
[ "${batches:-0}" -ge 10 ] || fail "X-Engage ran in ${batches:-0} batches, expected at least 10"
# Every element closed in order, so a browser renders what was meant.
python3 - "$html" <<'PY' || fail "report.html is not well formed"
import sys
from html.parser import HTMLParser
stack = []
class P(HTMLParser):
    def handle_starttag(self, t, a):
        if t not in ("meta", "br", "rect", "line", "circle"): stack.append(t)
    def handle_startendtag(self, t, a): pass
    def handle_endtag(self, t):
        if not stack or stack.pop() != t: raise SystemExit("mismatched </%s>" % t)
P().feed(open(sys.argv[1]).read())
if stack: raise SystemExit("unclosed: %s" % stack)
PY
# Where Chromium is installed (not by setup-debian.sh), the page opens in it headless: its DOM
# holds the three charts and a screenshot is not blank.
if [ "$store" = file ] && command -v chromium > /dev/null 2>&1; then
    flags="--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=$dir/chromium"
    # shellcheck disable=SC2086
    timeout 120 chromium $flags --dump-dom "file://$html" 2>/dev/null > "$dir/dom.html" || true
    [ "$(grep -o '<svg' "$dir/dom.html" | wc -l)" -eq 3 ] && grep -q "X-Engage learning per batch" "$dir/dom.html" \
        || fail "Chromium did not render the three charts"
    # shellcheck disable=SC2086
    timeout 120 chromium $flags --window-size=900,1900 --screenshot="$dir/shot.png" "file://$html" > /dev/null 2>&1 || true
    [ "$(wc -c < "$dir/shot.png" 2>/dev/null || echo 0)" -gt 50000 ] || fail "Chromium's screenshot of report.html is missing or blank"
    echo "ok: report.html renders in headless Chromium ($(wc -c < "$dir/shot.png") byte screenshot)"
fi
# The same deterministic campaign on the SQLite adapter reports exactly what it reports on the file store.
if [ "$store" = sqlite ]; then
    "$demo" --store file --dir "$dir/file" > "$dir/file.out" 2>/dev/null || fail "the demo failed on the file store"
    sed -n '/^5\. Campaign report/,/^6\./p' "$dir/out" > "$dir/report.sqlite"
    sed -n '/^5\. Campaign report/,/^6\./p' "$dir/file.out" > "$dir/report.file"
    [ -s "$dir/report.file" ] && cmp -s "$dir/report.sqlite" "$dir/report.file" \
        || { diff "$dir/report.file" "$dir/report.sqlite"; fail "the SQLite adapter's report differs from the file store's"; }
fi
echo "ok: the demo on the $store store prints its report, reopens to the same report, writes a self-contained report.html"
