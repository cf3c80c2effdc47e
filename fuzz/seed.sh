#!/usr/bin/env bash
# Writes the fuzz targets' seed inputs from the shared fixtures into fuzz/corpus/ (git-ignored):
# the Jira and Forge bodies as they are for the normalizer, and each inside a real envelope's
# headers for the envelope decoder. Rewritten on every run, so the seeds follow the fixtures;
# what libFuzzer adds beside them stays until `rm -r fuzz/corpus`.
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shared/ sits beside the checkout, as the tests' fixtures do.
FIXTURES=${METAFRAZO_FIXTURES:-$FUZZ_DIR/../../shared/fixtures}
[[ -d $FIXTURES/jira && -d $FIXTURES/forge ]] || {
  echo "fuzz/seed.sh: no fixtures in $FIXTURES (set METAFRAZO_FIXTURES)" >&2
  exit 1
}

mkdir -p "$FUZZ_DIR/corpus/normalize" "$FUZZ_DIR/corpus/envelope_decode"
count=0
for file in "$FIXTURES"/jira/*.json "$FIXTURES"/forge/*.json; do
  family=$(basename "$(dirname "$file")")
  name=seed_${family}_$(basename "$file" .json)
  source=connect
  [[ $family == forge ]] && source=forge
  cp "$file" "$FUZZ_DIR/corpus/normalize/$name"
  # The header lines envelope_decode.rs reads: name, colon, value; a blank line; the value.
  {
    printf 'mf-envelope:1\nmf-installation-id:3f2a9c1e-0000-4000-8000-00000000f022\n'
    printf 'mf-client-key:client-%s\nmf-delivery-id:wh-%s\nmf-retry:0\nmf-source:%s\n' \
      "$family" "$name" "$source"
    printf 'mf-received-at-ms:1763397602311\nmf-request-id:req-%s\n\n' "$count"
    cat "$file"
  } >"$FUZZ_DIR/corpus/envelope_decode/$name"
  count=$((count + 1))
done
echo "fuzz/seed.sh: $count seeds from $FIXTURES"
