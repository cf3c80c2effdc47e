# Our own binaries, built from this checkout and run from its target directory. A service whose
# binary was rebuilt since it started, or whose public URLs changed, counts as not up, so `up`
# restarts it with the new code and settings.

SERVICES=(ingress onboarding dashboards pipeline)
# How long each service may take to answer ready. The pipeline migrates the warehouse first and
# the dashboards wait for that: under a second on one server, tens of seconds on a fresh cluster.
SERVICE_READY_SECONDS=${SERVICE_READY_SECONDS:-60}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# The public address; none for the pipeline, which has only its admin port.
service_addr() {
  case $1 in
    ingress) echo "$INGRESS_ADDR" ;;
    onboarding) echo "$ONBOARDING_ADDR" ;;
    dashboards) echo "$DASHBOARDS_ADDR" ;;
  esac
}

# Where /healthz, /readyz and /metrics answer.
service_admin_addr() {
  case $1 in
    ingress) echo "$INGRESS_ADMIN_ADDR" ;;
    onboarding) echo "$ONBOARDING_ADMIN_ADDR" ;;
    dashboards) echo "$DASHBOARDS_ADMIN_ADDR" ;;
    pipeline) echo "$PIPELINE_ADMIN_ADDR" ;;
  esac
}

build_services() {
  say "building the services (cargo build --workspace --bins)"
  (cd "$ROOT" && cargo build --workspace --bins --locked)
}

service_ready() { http_ok "http://$(service_admin_addr "$1")/readyz"; }

# Where to find a service, for messages: its public address, else its admin port.
service_where() {
  local public
  public=$(service_addr "$1")
  if [[ -n $public ]]; then
    echo "http://$public (admin: http://$(service_admin_addr "$1"))"
  else
    echo "http://$(service_admin_addr "$1") (admin only)"
  fi
}

# The settings `up` derives from the stack's layout (the front door's address), kept beside the
# pid file when a service starts: a service started with others is out of date.
service_settings() {
  printf '%s\n' "PUBLIC_BASE_URL=$PUBLIC_BASE_URL" "DASHBOARDS_URL=$DASHBOARDS_URL" \
    "ONBOARDING_URL=$ONBOARDING_URL" "DEPLOYMENT=$DEPLOYMENT" \
    "CLICKHOUSE_URL=$CLICKHOUSE_URL" "CLICKHOUSE_CLUSTER=${CLICKHOUSE_CLUSTER:-}" \
    "ADMIN_ADDR=$(service_admin_addr "$1")"
}

service_settings_file() { echo "$STACK_DIR/run/$1.settings"; }

service_current() {
  pid_alive "$1" && [[ ! $TARGET_DIR/debug/$1 -nt $(pid_file "$1") ]] &&
    cmp -s <(service_settings "$1") "$(service_settings_file "$1")"
}

services_healthy() {
  local service
  for service in "${SERVICES[@]}"; do
    service_current "$service" && service_ready "$service" || return 1
  done
}

services_start() {
  local service
  for service in "${SERVICES[@]}"; do
    service_current "$service" && continue
    stop_spawned "$service"
    if [[ -n $(service_addr "$service") ]]; then
      require_free_port "$service" "$(service_addr "$service" | cut -d: -f2)"
    fi
    require_free_port "$service admin" "$(service_admin_addr "$service" | cut -d: -f2)"
    spawn "$service" "$TARGET_DIR/debug/$service"
    service_settings "$service" >"$(service_settings_file "$service")"
  done
  for service in "${SERVICES[@]}"; do
    wait_until "$service" "$SERVICE_READY_SECONDS" "$STACK_DIR/logs/$service.log" service_ready "$service"
    say "$service: ready on $(service_where "$service")"
  done
}

services_stop() {
  local service
  for service in "${SERVICES[@]}"; do
    stop_spawned "$service"
  done
}

services_status() {
  local service running healthy all_ok=0
  for service in "${SERVICES[@]}"; do
    running=stopped healthy=down
    pid_alive "$service" && running=running
    service_ready "$service" && healthy=healthy
    report "$service" "$running" "$healthy" "$(service_where "$service")" || all_ok=1
  done
  return $all_ok
}

print_endpoints() {
  cat <<EOT

MetaFrazo is up. State and logs: $STACK_DIR (compose/local logs [name])
  open this    http://$FRONT_DOOR_ADDR (the front door: Jira's callbacks, sign-in, the dashboards)
  ingress      http://$INGRESS_ADDR (health and metrics: http://$INGRESS_ADMIN_ADDR)
  onboarding   http://$ONBOARDING_ADDR (health and metrics: http://$ONBOARDING_ADMIN_ADDR)
  dashboards   http://$DASHBOARDS_ADDR (health and metrics: http://$DASHBOARDS_ADMIN_ADDR)
  pipeline     http://$PIPELINE_ADMIN_ADDR/metrics (health and metrics only)
  postgres     127.0.0.1:$POSTGRES_PORT (database and role metafrazo)
  clickhouse   $CLICKHOUSE_URL
  kafka        $KAFKA_BROKERS
  smtp         127.0.0.1:$SMTP_PORT (mail kept in $STACK_DIR/mail/new)
  prometheus   $PROMETHEUS_URL
  simulator    http://$SIMULATOR_ADDR (Atlassian's keys and Jira's REST API)
  demo         $(demo_workspace_summary) (DEMO_INSTALL_VIA: forge or connect)
  oidc         $OIDC_GOOGLE_ISSUER and $OIDC_MICROSOFT_ISSUER (sign in as anyone)

See a populated product: $(demo_organization_summary)
Connect the demo workspace yourself: open the newest "Finish connecting" email in $STACK_DIR/mail/new
Send it events: $TARGET_DIR/debug/jira-simulator stream --lifecycle 40 --weeks 4 (or --rate 20 --count 200)
EOT
}
