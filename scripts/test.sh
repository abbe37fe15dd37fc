#!/usr/bin/env bash
# `npm test`: system packages (where missing), dependencies (where missing), type-check + build,
# formatting + lint, unit tests in parallel, then the namespace-lab integration tests one file at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-packages.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
rm -rf dist && npx tsc -p tsconfig.json
# Formatting and lint (biome.jsonc): `npx biome check --write .` fixes what it can.
npx biome ci --error-on-warnings --reporter=summary .
mapfile -t unit < <(find dist/test -name '*.test.js' -not -path 'dist/test/integration/*' | sort)
mapfile -t integration < <(find dist/test/integration -name '*.test.js' 2>/dev/null | sort)
node --test --test-reporter=spec "${unit[@]}"
if [ ${#integration[@]} -gt 0 ]; then
  node --test --test-reporter=spec --test-concurrency=1 "${integration[@]}"
fi
