#!/usr/bin/env bash
# `npm run bench`: every bench/*.bench.ts in turn; each measures its anchor in the same run,
# prints ratios and writes bench/results/<name>.json. Arguments go to every bench
# (`npm run bench -- --names 300` shortens the front benches; others ignore them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-packages.sh
npx tsc -p tsconfig.json
for b in bench/*.bench.ts; do
  [ -n "${BENCH:-}" ] && [[ "$b" != *"$BENCH"* ]] && continue
  echo "== $b"
  npx tsx "$b" "$@"
done
