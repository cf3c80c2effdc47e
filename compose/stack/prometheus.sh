# Prometheus scraping every service (on its admin port), with its data under .stack/prometheus.

# The configuration for the current addresses, on stdout.
prometheus_render() {
  # Each service's admin port: the only one that serves /metrics.
  sed -e "s|@INGRESS@|$INGRESS_ADMIN_ADDR|" -e "s|@ONBOARDING@|$ONBOARDING_ADMIN_ADDR|" \
    -e "s|@DASHBOARDS@|$DASHBOARDS_ADMIN_ADDR|" -e "s|@PIPELINE@|$PIPELINE_ADMIN_ADDR|" \
    -e "s|@PROMETHEUS@|127.0.0.1:$PROMETHEUS_PORT|" \
    -e "s|@RULES@|$COMPOSE_DIR/prometheus/rules/metafrazo.rules.yml|" \
    "$COMPOSE_DIR/stack/prometheus.yml"
}

# Healthy only when started from the configuration the addresses give now, so a Prometheus
# still scraping old ports (the services' public ports, before the admin ports) is restarted.
prometheus_healthy() {
  pid_alive prometheus && http_ok "$PROMETHEUS_URL/-/ready" &&
    cmp -s <(prometheus_render) "$STACK_DIR/prometheus/prometheus.yml"
}

prometheus_start() {
  stop_spawned prometheus
  require_free_port prometheus "$PROMETHEUS_PORT"
  mkdir -p "$STACK_DIR/prometheus/data"
  prometheus_render >"$STACK_DIR/prometheus/prometheus.yml"
  spawn prometheus /usr/bin/prometheus \
    --config.file="$STACK_DIR/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STACK_DIR/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
  wait_until prometheus 30 "$STACK_DIR/logs/prometheus.log" prometheus_healthy
  # Returning before the first scrape would let a test see targets as "unknown".
  wait_until prometheus 30 "$STACK_DIR/logs/prometheus.log" prometheus_targets_up
  say "prometheus: up on $PROMETHEUS_URL, every target up"
}

prometheus_targets_up() {
  local body
  body=$(curl -fsS --max-time 2 "$PROMETHEUS_URL/api/v1/targets?state=active" 2>/dev/null) || return 1
  # Up when at least one target is listed and none is unknown or down.
  grep -q '"health":"up"' <<<"$body" && ! grep -qE '"health":"(unknown|down)"' <<<"$body"
}

prometheus_stop() { stop_spawned prometheus; }

# The alert rules parse and their unit tests pass; needs only promtool, not a running Prometheus.
prometheus_check_rules() {
  promtool check rules "$COMPOSE_DIR/prometheus/rules/metafrazo.rules.yml"
  promtool test rules "$COMPOSE_DIR/prometheus/rules/metafrazo.rules.test.yml"
}

prometheus_status() {
  local running=stopped healthy=down
  pid_alive prometheus && running=running
  prometheus_healthy && healthy=healthy
  report prometheus "$running" "$healthy" "$PROMETHEUS_URL"
}
