#!/usr/bin/env bash
# Installs the validator's npm packages when they are missing or package.json or the lockfile
# changed (npm ci, from npm's cache when it can), then validates forge/manifest.yml.
# `compose/local test` runs this.
set -Eeuo pipefail

FORGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$FORGE_DIR"

command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "forge: node and npm are needed to validate forge/manifest.yml (Node.js 20 or later)" >&2; exit 1; }

# npm ci wipes node_modules, so it runs only when package.json or the lockfile differs from what
# was last installed (npm ci itself refuses the two out of step).
stamp=node_modules/.metafrazo-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "forge: installing the validator's packages (npm ci)"
  npm ci --no-audit --no-fund --prefer-offline
  echo "$want" >"$stamp"
fi

node scripts/validate-manifest.mjs
