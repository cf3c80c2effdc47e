#!/usr/bin/env bash
# Renders the Forge app with the real app id and public URL into forge/build/ (git-ignored), then
# deploys it from there with the Forge CLI, or prints what to run when the CLI is not installed.
# Never edit forge/build/: it is rewritten on every run from forge/manifest.yml and forge/src/.
#
#   FORGE_APP_ID=ari:cloud:ecosystem::app/… PUBLIC_BASE_URL=https://metafrazo.example.org \
#     forge/deploy.sh [forge deploy options, e.g. -e production]
set -Eeuo pipefail

FORGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=$FORGE_DIR/build
# What the committed manifest holds; the rendered copy must hold neither.
DEMO_APP_ID=ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a
PLACEHOLDER_URL=https://metafrazo.example.com

die() { echo "forge/deploy.sh: $*" >&2; exit 1; }

app_id=${FORGE_APP_ID:-}
base_url=${PUBLIC_BASE_URL:-}
base_url=${base_url%/}
[[ $app_id =~ ^ari:cloud:ecosystem::app/[^[:space:]]+$ ]] ||
  die "set FORGE_APP_ID to the app's ARI (ari:cloud:ecosystem::app/…; 'forge register' prints it)"
[[ $app_id != "$DEMO_APP_ID" ]] || die "FORGE_APP_ID is the demo app id; use your app's own"
[[ $base_url =~ ^https://[^/[:space:]]+$ ]] ||
  die "set PUBLIC_BASE_URL to our public https URL without a path (Forge calls https only)"
[[ $base_url != "$PLACEHOLDER_URL" ]] || die "PUBLIC_BASE_URL is the placeholder; use the real public URL"

rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
cp -R "$FORGE_DIR/src" "$BUILD_DIR/src"
# Exact-match replacements of the two values, so any other change to the manifest is kept as is.
awk -v demo_id="$DEMO_APP_ID" -v app_id="$app_id" -v placeholder="$PLACEHOLDER_URL" -v url="$base_url" '
  function keep_indent(value) { match($0, /^[ \t]*/); $0 = substr($0, 1, RLENGTH) $1 " " value }
  $1 == "id:" && $2 == demo_id { keep_indent(app_id); ids++ }
  $1 == "baseUrl:" && $2 == placeholder { keep_indent(url); urls++ }
  { print }
  END { if (ids != 1 || urls != 1) { print "expected one app id and one remote baseUrl to replace, found " ids + 0 " and " urls + 0 > "/dev/stderr"; exit 1 } }
' "$FORGE_DIR/manifest.yml" >"$BUILD_DIR/manifest.yml"
# The admin page's UI Kit packages are forge/package.json's dependencies, pinned by its lockfile
# (the same ones forge/scripts/check.sh bundles); the build copy installs only those (npm ci
# --omit=dev), not the validator, bundler and linter.
cp "$FORGE_DIR/package.json" "$FORGE_DIR/package-lock.json" "$FORGE_DIR/.npmrc" "$BUILD_DIR/"

# The rendered copy must be as valid as the committed one.
if [[ -d $FORGE_DIR/node_modules/@forge/manifest ]]; then
  node "$FORGE_DIR/scripts/validate-manifest.mjs" "$BUILD_DIR/manifest.yml"
else
  echo "forge/deploy.sh: run forge/scripts/check.sh first to validate the rendered manifest" >&2
fi
echo "rendered $BUILD_DIR/manifest.yml for $app_id at $base_url"

if command -v forge >/dev/null; then
  cd "$BUILD_DIR"
  npm ci --omit=dev --no-audit --no-fund --prefer-offline --ignore-scripts --loglevel=error
  forge deploy --non-interactive "$@"
  echo "deployed; install it on a site with: (cd $BUILD_DIR && forge install --product jira --site <your-site>.atlassian.net)"
else
  cat <<TXT
The Forge CLI is not installed (npm install -g @forge/cli, then forge login). Then run:
  cd $BUILD_DIR
  npm ci --omit=dev --ignore-scripts
  forge deploy${*:+ $*}
  forge install --product jira --site <your-site>.atlassian.net
TXT
fi
