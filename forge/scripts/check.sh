#!/usr/bin/env bash
# Checks the Forge app as Atlassian's tools would take it, with their own packages (pinned in
# package.json and package-lock.json): validates forge/manifest.yml (validate-manifest.mjs), then
# bundles the admin page's UI Kit resource with @forge/bundler, type-checks it against the UI Kit
# packages and lints the app with @forge/lint (build-ui.mjs). Any error fails it.
# Installs the packages first when they are missing or package.json or the lockfile changed (npm ci,
# from npm's cache when it can). `compose/local test` runs this.
set -Eeuo pipefail

FORGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$FORGE_DIR"

command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "forge: node and npm are needed to check the Forge app (Node.js 20 or later)" >&2; exit 1; }

# npm ci wipes node_modules, so it runs only when package.json or the lockfile differs from what
# was last installed (npm ci itself refuses the two out of step). No install scripts: see .npmrc.
stamp=node_modules/.metafrazo-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "forge: installing Atlassian's packages and the UI Kit packages (npm ci)"
  npm ci --no-audit --no-fund --prefer-offline --ignore-scripts --loglevel=error
  echo "$want" >"$stamp"
fi

node scripts/validate-manifest.mjs
node scripts/build-ui.mjs
