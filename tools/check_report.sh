#!/usr/bin/env bash
# Load a run's report.html in headless Chromium with the network cut off and
# save a screenshot; fail on any console message, failed load or network
# request. Needs chromium and a CJK font (Debian: chromium fonts-wqy-zenhei).
set -euo pipefail
run=${1:-out}
page=$(realpath "$run/report.html")
command -v chromium >/dev/null || { echo "check-report: chromium is not installed (apt-get install chromium fonts-wqy-zenhei)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every host resolves to nothing and every proxy connection is refused: a
# page that tried to fetch anything would log net::ERR_…
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --no-first-run --user-data-dir="$tmp/profile" \
  --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="127.0.0.1:9" \
  --enable-logging=stderr --v=1 --window-size=1280,4000 \
  --screenshot="$run/report.png" "file://$page" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
# Chromium's own service requests (updates, accounts, time, dictionaries)
# are not the page's; any other URL request is.
requests=$(grep -o 'NotifyBeforeURLRequest: [a-z]*://[^ ]*' "$tmp/log" |
  grep -vE '://(clients[0-9]*\.google\.com|update\.googleapis\.com|accounts\.google\.com|[a-z0-9-]+\.gvt1\.com)/' || true)
if grep -E ':CONSOLE|Uncaught' "$tmp/log" || [ -n "$requests" ]; then
  echo "$requests"
  echo "check-report: console messages or network requests while loading $page"
  exit 1
fi
test -s "$run/report.png"
echo "check-report: $page loaded offline without console errors; screenshot $run/report.png"
