#!/usr/bin/env bash
# Peak RSS of `winnow run` (read + write, no stages) on 1x, 4x, 16x and 64x copies of a
# corpus: it must not grow with the corpus. Prints one line per size from the
# run's own stats.json (getrusage peak RSS, input MB per wall and CPU second).
# Usage: tools/bench/rss.sh [corpus-dir]   (default ../shared/corpora/zh-laws)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${1:-../shared/corpora/zh-laws}
[ -d "$src" ] || { echo "corpus $src not found; skipping"; exit 0; }
make -s build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in ${SIZES:-1 4 16 64}; do
  mkdir -p "$work/in$n"
  for i in $(seq 1 $n); do cp -r "$src" "$work/in$n/copy$i"; done
  ./bin/winnow run -i "$work/in$n" -o "$work/out$n" --workers 1 --log-level warn \
    -c <(printf 'input:\n  exclude: ["*.tsv", "SOURCES.md"]\n') 2>/dev/null || true
  python3 - "$work/out$n/stats.json" "$n" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}x corpus: {s['read']['input_bytes']/1e6:.1f} MB, {s['kept']['docs']} docs, "
      f"{s['mb_per_second']:.1f} MB/s wall, {s['mb_per_cpu_second']:.1f} MB/cpu-s, "
      f"peak RSS {s['peak_rss_bytes']/2**20:.0f} MiB")
PY
done
