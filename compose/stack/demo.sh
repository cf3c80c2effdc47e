# The demo organization: what a newcomer looks at first. A workspace installed through the
# simulator (Connect, as any install), connected to an organization owned by a demo account,
# with weeks of issue lifecycles sent through ingress as Jira would have sent them. Made once;
# a later `up` keeps it (`compose/local reset` starts over).

DEMO_EMAIL=${DEMO_EMAIL:-demo@metafrazo.test}
DEMO_PASSWORD=${DEMO_PASSWORD:-metafrazo-demo}
DEMO_ORGANIZATION=${DEMO_ORGANIZATION:-Acme Engineering (demo)}
DEMO_ISSUES=${DEMO_ISSUES:-80}
DEMO_WEEKS=${DEMO_WEEKS:-6}
DEMO_ORG_INSTALLATIONS=$STACK_DIR/simulator/demo-organization.json
DEMO_ORG_ID_FILE=$STACK_DIR/simulator/demo-organization.id

install_demo_organization() {
  [[ -s $DEMO_ORG_ID_FILE ]] && return 0
  say "making the demo organization: a workspace with $DEMO_WEEKS weeks of issue lifecycles"
  local log=$STACK_DIR/logs/simulator.log client_key organization
  "$TARGET_DIR/debug/jira-simulator" install --via connect --workspaces 1 \
    --out "$DEMO_ORG_INSTALLATIONS" >>"$log" 2>&1 || {
    fail_note "the demo organization's install failed; see $log"
    return 1
  }
  client_key=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["installations"][0]["client_key"])' \
    "$DEMO_ORG_INSTALLATIONS")
  # The service logs to stdout too: the id is the command's last line.
  organization=$("$TARGET_DIR/debug/onboarding" demo-organization --email "$DEMO_EMAIL" \
    --password "$DEMO_PASSWORD" --name "$DEMO_ORGANIZATION" --client-key "$client_key" \
    2>>"$log" | tee -a "$log" | tail -n 1) || {
    fail_note "the demo organization could not be made; see $log"
    return 1
  }
  "$TARGET_DIR/debug/jira-simulator" stream --from "$DEMO_ORG_INSTALLATIONS" \
    --lifecycle "$DEMO_ISSUES" --weeks "$DEMO_WEEKS" --seed 42 --rate 200 >>"$log" 2>&1 || {
    fail_note "the demo organization's events were not all accepted; see $log"
    return 1
  }
  echo "$organization" >"$DEMO_ORG_ID_FILE"
}

# For the summary: where to look and how to sign in.
demo_organization_summary() {
  if [[ -s $DEMO_ORG_ID_FILE ]]; then
    echo "sign in as $DEMO_EMAIL / $DEMO_PASSWORD, then http://$FRONT_DOOR_ADDR/orgs/$(cat "$DEMO_ORG_ID_FILE")"
  else
    echo "not made yet"
  fi
}
