# The local OpenID providers (compose/oidc-provider): a Google-shaped and a Microsoft-shaped issuer
# on one port, run by the `oidc-provider` npm package with a scripted login form. Onboarding's
# "Continue with Google/Microsoft" and its tests sign in through them.

OIDC_PROVIDER_PORT=${OIDC_PROVIDER_PORT:-8091}
OIDC_PROVIDER_DIR=$ROOT/compose/oidc-provider
# The Microsoft-shaped issuer's fixed tenant (server.mjs says the same).
OIDC_MICROSOFT_TENANT=7e1c4a2b-5d3f-4c8e-9a10-2b6d8f0e3c71
# Where onboarding finds them (its defaults name the same URLs on the default port).
export OIDC_GOOGLE_ISSUER=${OIDC_GOOGLE_ISSUER:-http://127.0.0.1:$OIDC_PROVIDER_PORT/google}
export OIDC_MICROSOFT_ISSUER=${OIDC_MICROSOFT_ISSUER:-http://127.0.0.1:$OIDC_PROVIDER_PORT/microsoft/$OIDC_MICROSOFT_TENANT/v2.0}

oidc_healthy() { pid_alive oidc && http_ok "http://127.0.0.1:$OIDC_PROVIDER_PORT/healthz"; }

# npm ci wipes node_modules, so it runs only when the lockfile differs from what was installed.
oidc_install() {
  command -v node >/dev/null && command -v npm >/dev/null ||
    die "oidc: node and npm are needed for the local OpenID provider (Node.js 20 or later)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  ((major >= 20)) || die "oidc: the local OpenID provider needs Node.js 20 or later (found $(node --version))"
  local stamp=$OIDC_PROVIDER_DIR/node_modules/.metafrazo-lock.sha256 want
  want=$(cat "$OIDC_PROVIDER_DIR/package.json" "$OIDC_PROVIDER_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    say "oidc: installing oidc-provider (npm ci)"
    (cd "$OIDC_PROVIDER_DIR" && npm ci --no-audit --no-fund --prefer-offline >&2)
    echo "$want" >"$stamp"
  fi
}

oidc_start() {
  stop_spawned oidc
  require_free_port oidc "$OIDC_PROVIDER_PORT"
  oidc_install
  mkdir -p "$STACK_DIR/oidc"
  OIDC_PROVIDER_PORT=$OIDC_PROVIDER_PORT OIDC_PROVIDER_KEY_FILE=$STACK_DIR/oidc/jwks.json \
    spawn oidc node "$OIDC_PROVIDER_DIR/server.mjs"
  wait_until oidc 30 "$STACK_DIR/logs/oidc.log" oidc_healthy
  say "oidc: issuers $OIDC_GOOGLE_ISSUER and $OIDC_MICROSOFT_ISSUER"
}

oidc_stop() { stop_spawned oidc; }

oidc_status() {
  local running=stopped healthy=down
  pid_alive oidc && running=running
  oidc_healthy && healthy=healthy
  report oidc "$running" "$healthy" "http://127.0.0.1:$OIDC_PROVIDER_PORT (google, microsoft/$OIDC_MICROSOFT_TENANT/v2.0)"
}
