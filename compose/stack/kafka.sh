# The Kafka-protocol broker: tansu, durable SQLite storage in .stack/kafka by default
# (KAFKA_STORAGE=memory://tansu/ for benchmarks).

kafka_healthy() { pid_alive kafka && port_open "$KAFKA_PORT"; }

kafka_start() {
  require_free_port kafka "$KAFKA_PORT"
  mkdir -p "$STACK_DIR/kafka"
  # tansu reads its settings from these variables too; pass ours explicitly and run in
  # .stack/kafka so the SQLite file lands there.
  (cd "$STACK_DIR/kafka" && spawn kafka env RUST_LOG="${KAFKA_LOG:-warn}" "$TANSU_BIN" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine "$KAFKA_STORAGE")
  wait_until kafka 30 "$STACK_DIR/logs/kafka.log" kafka_healthy
  say "kafka: tansu up on 127.0.0.1:$KAFKA_PORT ($KAFKA_STORAGE)"
}

kafka_stop() { stop_spawned kafka; }

kafka_status() {
  local running=stopped healthy=down
  pid_alive kafka && running=running
  kafka_healthy && healthy=healthy
  report kafka "$running" "$healthy" "127.0.0.1:$KAFKA_PORT ($KAFKA_STORAGE)"
}
