# The Jira simulator plays Atlassian on the local stack: it serves the Connect install keys and
# the Forge JWKS (onboarding and ingress fetch them there), and `up` uses it to install one demo
# workspace, whose client key and shared secret land in .stack/simulator/installation.json.

SIMULATOR_PORT=${SIMULATOR_PORT:-8090}
SIMULATOR_DIR=$STACK_DIR/simulator
export SIMULATOR_ADDR=127.0.0.1:$SIMULATOR_PORT
export SIMULATOR_KEY_FILE=$SIMULATOR_DIR/key.pem
export SIMULATOR_INSTALLATIONS=$SIMULATOR_DIR/installation.json
export SIMULATOR_KEY_URL=http://$SIMULATOR_ADDR
export SIMULATOR_ONBOARDING_URL=http://$ONBOARDING_ADDR
export SIMULATOR_INGRESS_URL=http://$INGRESS_ADDR
# Onboarding asks the simulator for installers' email addresses (it serves every simulated site).
export ATLASSIAN_API_BASE_URL=${ATLASSIAN_API_BASE_URL:-http://$SIMULATOR_ADDR}
# Where our services fetch Atlassian's keys: this simulator, on whatever port it runs.
export ATLASSIAN_INSTALL_KEYS_URL=${ATLASSIAN_INSTALL_KEYS_URL:-http://$SIMULATOR_ADDR/install-keys}
export FORGE_JWKS_URL=${FORGE_JWKS_URL:-http://$SIMULATOR_ADDR/forge/jwks.json}
# The base URL Atlassian sees: onboarding, wherever it listens.
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$ONBOARDING_ADDR}

simulator_healthy() {
  pid_alive simulator && [[ ! $TARGET_DIR/debug/jira-simulator -nt $(pid_file simulator) ]] &&
    http_ok "http://$SIMULATOR_ADDR/healthz"
}

simulator_start() {
  stop_spawned simulator
  require_free_port simulator "$SIMULATOR_PORT"
  mkdir -p "$SIMULATOR_DIR"
  spawn simulator "$TARGET_DIR/debug/jira-simulator" serve
  wait_until simulator 20 "$STACK_DIR/logs/simulator.log" simulator_healthy
  say "simulator: Atlassian's keys on http://$SIMULATOR_ADDR"
}

simulator_stop() { stop_spawned simulator; }

simulator_status() {
  local running=stopped healthy=down
  pid_alive simulator && running=running
  simulator_healthy && healthy=healthy
  report simulator "$running" "$healthy" "http://$SIMULATOR_ADDR (demo workspace: $SIMULATOR_INSTALLATIONS)"
}

# Installs the demo workspace once; a later `up` keeps it (reset wipes it).
install_demo_workspace() {
  [[ -s $SIMULATOR_INSTALLATIONS ]] && return 0
  say "installing a demo Jira workspace through the simulator (signed Connect install)"
  "$TARGET_DIR/debug/jira-simulator" install --workspaces 1 >>"$STACK_DIR/logs/simulator.log" 2>&1 || {
    fail_note "the demo install failed; see $STACK_DIR/logs/simulator.log and onboarding.log"
    tail -n 10 "$STACK_DIR/logs/simulator.log" >&2
    return 1
  }
}
