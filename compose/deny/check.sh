#!/usr/bin/env bash
# cargo deny on the workspace: licenses, bans (including a second version of a crate), sources,
# and advisories from the RustSec snapshot kept beside this script. CI reaches no network but
# the package registries, so the advisory database cannot be fetched there: the snapshot is
# unpacked into a git repository (cargo deny reads a database only from one) whose commit and
# HEAD carry the snapshot's own date, so its staleness limit (deny.toml) measures the snapshot,
# not the unpacking. Installs cargo-deny once, into a cached root.
#
#   compose/deny/check.sh
set -euo pipefail

DENY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DENY_DIR/../.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/metafrazo

CARGO_DENY_VERSION=0.20.2
CARGO_DENY_ROOT=${CARGO_DENY_ROOT:-$CACHE/cargo-deny}
if ! "$CARGO_DENY_ROOT/bin/cargo-deny" --version 2>/dev/null | grep -qF "$CARGO_DENY_VERSION"; then
  echo "compose/deny/check.sh: installing cargo-deny $CARGO_DENY_VERSION into $CARGO_DENY_ROOT (once)"
  cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION" --root "$CARGO_DENY_ROOT"
fi

# The directory cargo deny derives from the database's URL in deny.toml
# (https://github.com/rustsec/advisory-db).
read -r commit snapshot_date < "$DENY_DIR/advisory-db.snapshot"
export METAFRAZO_ADVISORY_DBS=$CACHE/advisory-dbs
db=$METAFRAZO_ADVISORY_DBS/advisory-db-3157b0e258782691
if [[ $(cat "$db/.snapshot" 2>/dev/null) != "$commit" ]]; then
  rm -rf "$db"
  mkdir -p "$db"
  tar -xJf "$DENY_DIR/advisory-db.tar.xz" -C "$db"
  git -C "$db" init -q
  git -C "$db" add -A
  GIT_AUTHOR_DATE=$snapshot_date GIT_COMMITTER_DATE=$snapshot_date \
    git -C "$db" -c user.name=metafrazo -c user.email=ci@metafrazo.invalid \
    commit -q -m "RustSec advisory-db at $commit"
  touch -d "$snapshot_date" "$db/.git/HEAD"
  echo "$commit" > "$db/.snapshot"
fi
echo "compose/deny/check.sh: advisories as of $snapshot_date (RustSec advisory-db $commit)"

cd "$ROOT"
# Every platform's crates, so the offline run below can read the whole graph.
cargo fetch --locked --quiet
"$CARGO_DENY_ROOT/bin/cargo-deny" --offline --config "$DENY_DIR/deny.toml" check
