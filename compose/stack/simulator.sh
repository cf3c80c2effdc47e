# The Jira simulator plays Atlassian on the local stack: it serves the Connect install keys and
# the Forge JWKS (onboarding and ingress fetch them there), and `up` uses it to install one demo
# workspace, through Forge (DEMO_INSTALL_VIA=forge, the default) or Connect (=connect); what a
# tool needs to act as Jira for it lands in .stack/simulator/installation.json.

SIMULATOR_PORT=${SIMULATOR_PORT:-8090}
DEMO_INSTALL_VIA=${DEMO_INSTALL_VIA:-forge}
SIMULATOR_DIR=$STACK_DIR/simulator
export SIMULATOR_ADDR=127.0.0.1:$SIMULATOR_PORT
export SIMULATOR_KEY_FILE=$SIMULATOR_DIR/key.pem
export SIMULATOR_INSTALLATIONS=$SIMULATOR_DIR/installation.json
export SIMULATOR_KEY_URL=http://$SIMULATOR_ADDR
# Atlassian reaches the app at its one public address: the front door routes each call.
export SIMULATOR_ONBOARDING_URL=http://$FRONT_DOOR_ADDR
export SIMULATOR_INGRESS_URL=http://$FRONT_DOOR_ADDR
# Onboarding asks the simulator for installers' email addresses (it serves every simulated site).
export ATLASSIAN_API_BASE_URL=${ATLASSIAN_API_BASE_URL:-http://$SIMULATOR_ADDR}
# Where our services fetch Atlassian's keys: this simulator, on whatever port it runs.
export ATLASSIAN_INSTALL_KEYS_URL=${ATLASSIAN_INSTALL_KEYS_URL:-http://$SIMULATOR_ADDR/install-keys}
export FORGE_JWKS_URL=${FORGE_JWKS_URL:-http://$SIMULATOR_ADDR/forge/jwks.json}
# Members link their Atlassian accounts through the simulator's authorization server.
export ATLASSIAN_OAUTH_AUTH_URL=${ATLASSIAN_OAUTH_AUTH_URL:-http://$SIMULATOR_ADDR}
export ATLASSIAN_OAUTH_API_URL=${ATLASSIAN_OAUTH_API_URL:-http://$SIMULATOR_ADDR}
# The base URL Atlassian sees (the descriptor's baseUrl, install tokens' aud, setup links, the
# base of every qsh): the front door.
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$FRONT_DOOR_ADDR}

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
  report simulator "$running" "$healthy" "http://$SIMULATOR_ADDR (demo: $(demo_workspace_summary))"
}

# Checked before `up` starts anything, so a typo does not leave a stack without its demo.
check_demo_install_via() {
  case $DEMO_INSTALL_VIA in
    forge | connect) ;;
    *) die "DEMO_INSTALL_VIA must be forge or connect, not '$DEMO_INSTALL_VIA'" ;;
  esac
}

# Installs the demo workspace once; a later `up` keeps it, whichever way it came (reset wipes it,
# and one uninstalled with `jira-simulator uninstall` is replaced).
install_demo_workspace() {
  local installed_via
  installed_via=$(demo_installed_via)
  if [[ $installed_via != none ]]; then
    [[ $installed_via == "$DEMO_INSTALL_VIA" ]] ||
      say "the demo workspace stays installed through $installed_via (DEMO_INSTALL_VIA=$DEMO_INSTALL_VIA applies after compose/local reset)"
    return 0
  fi
  say "installing a demo Jira workspace through the simulator ($(via_words "$DEMO_INSTALL_VIA"))"
  "$TARGET_DIR/debug/jira-simulator" install --via "$DEMO_INSTALL_VIA" --workspaces 1 \
    >>"$STACK_DIR/logs/simulator.log" 2>&1 || {
    fail_note "the demo install failed; see $STACK_DIR/logs/simulator.log and onboarding.log"
    tail -n 10 "$STACK_DIR/logs/simulator.log" >&2
    return 1
  }
}

# forge, connect or none: how the recorded demo workspace was installed. The file says, not the
# variable, since a later `up` keeps an earlier install. Only a Forge install has a system token
# and only a Connect one a shared secret.
demo_installed_via() {
  if grep -q '"system_token"' "$SIMULATOR_INSTALLATIONS" 2>/dev/null; then
    echo forge
  elif grep -q '"shared_secret"' "$SIMULATOR_INSTALLATIONS" 2>/dev/null; then
    echo connect
  else
    echo none
  fi
}

via_words() {
  case $1 in
    forge) echo "Forge: the installed lifecycle call with a FIT and the app system token" ;;
    connect) echo "Connect: a signed install callback" ;;
  esac
}

# For the summary and status: which way the demo workspace came, and where it is recorded.
demo_workspace_summary() {
  case $(demo_installed_via) in
    forge) echo "a Jira workspace installed through Forge, recorded in $SIMULATOR_INSTALLATIONS" ;;
    connect) echo "a Jira workspace installed through Connect, recorded in $SIMULATOR_INSTALLATIONS" ;;
    none) echo "none installed" ;;
  esac
}
