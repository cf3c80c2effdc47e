#!/usr/bin/env bash
# Replaces the RustSec advisory snapshot that compose/deny/check.sh uses with the database in a
# local clone of https://github.com/rustsec/advisory-db (CI cannot fetch it; a developer's
# machine can). Commit the two files it writes. The snapshot is CC0-1.0, like the database.
#
#   compose/deny/refresh-advisories.sh PATH_TO_ADVISORY_DB_CLONE
set -euo pipefail

DENY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
clone=${1:?usage: compose/deny/refresh-advisories.sh PATH_TO_ADVISORY_DB_CLONE}
git -C "$clone" rev-parse --verify -q HEAD > /dev/null \
  || { echo "$clone is not a git clone of rustsec/advisory-db" >&2; exit 2; }
git -C "$clone" cat-file -e HEAD:crates 2> /dev/null \
  || { echo "$clone has no crates/ directory at HEAD" >&2; exit 2; }

git -C "$clone" archive --format=tar HEAD crates LICENSE.txt | xz -9 > "$DENY_DIR/advisory-db.tar.xz"
git -C "$clone" log -1 --format='%H %cI' > "$DENY_DIR/advisory-db.snapshot"
echo "snapshot now: $(cat "$DENY_DIR/advisory-db.snapshot")"
