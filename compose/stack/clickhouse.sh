# ClickHouse (Debian's 18.16) as a plain process with its config, data and logs under
# .stack/clickhouse, and the database `metafrazo` created.

CH_DIR=$STACK_DIR/clickhouse

clickhouse_healthy() {
  [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null) == "Ok." ]] &&
    pid_alive clickhouse
}

clickhouse_start() {
  require_free_port clickhouse "$CLICKHOUSE_HTTP_PORT"
  require_free_port clickhouse "$CLICKHOUSE_TCP_PORT"
  mkdir -p "$CH_DIR/config" "$CH_DIR/data" "$CH_DIR/logs"
  local file
  for file in config.xml users.xml; do
    sed -e "s|@LOG_DIR@|$CH_DIR/logs|g" -e "s|@DATA_DIR@|$CH_DIR/data|g" \
      -e "s|@CONFIG_DIR@|$CH_DIR/config|g" -e "s|@HTTP_PORT@|$CLICKHOUSE_HTTP_PORT|g" \
      -e "s|@TCP_PORT@|$CLICKHOUSE_TCP_PORT|g" "$COMPOSE_DIR/stack/clickhouse/$file" \
      >"$CH_DIR/config/$file"
  done
  spawn clickhouse /usr/sbin/clickhouse-server --config-file="$CH_DIR/config/config.xml"
  wait_until clickhouse 60 "$CH_DIR/logs/clickhouse-server.err.log" clickhouse_healthy
  curl -fsS --max-time 5 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/" \
    --data-binary "CREATE DATABASE IF NOT EXISTS metafrazo" >/dev/null
  say "clickhouse: up on http://127.0.0.1:$CLICKHOUSE_HTTP_PORT"
}

clickhouse_stop() { stop_spawned clickhouse; }

clickhouse_status() {
  local running=stopped healthy=down
  pid_alive clickhouse && running=running
  clickhouse_healthy && healthy=healthy
  report clickhouse "$running" "$healthy" "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT"
}

# Tests create a database each (test_<id>); a new test run drops the previous run's.
clickhouse_drop_test_databases() {
  local name
  for name in $(curl -fsS --max-time 5 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/" \
    --data-binary "SELECT name FROM system.databases WHERE startsWith(name, 'test_')"); do
    curl -fsS --max-time 30 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/" \
      --data-binary "DROP DATABASE IF EXISTS $name" >/dev/null
  done
}
