# The local ClickHouse cluster `metafrazo`: ZooKeeper and two replicas of one shard, all from
# Debian's packages (zookeeper, clickhouse-server 18.16), on their own ports beside the single
# server the stack's services use. The warehouse and golden-path tests run against both
# (compose/local test); state under .stack/zookeeper and .stack/clickhouse-<replica>.

ZK_DIR=$STACK_DIR/zookeeper
CLUSTER_REPLICAS=(ch1 ch2)

zookeeper_healthy() {
  pid_alive zookeeper && [[ $( (exec 3<>"/dev/tcp/127.0.0.1/$ZOOKEEPER_PORT" && printf ruok >&3 &&
    timeout 2 cat <&3) 2>/dev/null) == imok ]]
}

zookeeper_start() {
  require_free_port zookeeper "$ZOOKEEPER_PORT"
  mkdir -p "$ZK_DIR/data"
  cat >"$ZK_DIR/zoo.cfg" <<CFG
tickTime=2000
dataDir=$ZK_DIR/data
clientPort=$ZOOKEEPER_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
CFG
  # Debian's jar names its dependencies in its manifest; the server needs no other classpath.
  spawn zookeeper java -Xmx256m -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
    org.apache.zookeeper.server.ZooKeeperServerMain "$ZK_DIR/zoo.cfg"
  wait_until zookeeper 60 "$STACK_DIR/logs/zookeeper.log" zookeeper_healthy
  # The cluster statements' queue, made before any replica asks: on a fresh ZooKeeper, 18.16
  # sometimes crashes (a null pointer in createImpl) making it for the first `ON CLUSTER`.
  local node
  for node in /clickhouse /clickhouse/task_queue /clickhouse/task_queue/ddl; do
    wait_until zookeeper 60 "$STACK_DIR/logs/zookeeper.log" zookeeper_has "$node"
  done
  say "zookeeper: up on 127.0.0.1:$ZOOKEEPER_PORT"
}

# Makes NODE unless it exists; false while ZooKeeper takes no sessions yet (it answers `ruok`
# before it has loaded its data).
zookeeper_has() {
  local answer
  answer=$(java -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
    org.apache.zookeeper.ZooKeeperMain -server "127.0.0.1:$ZOOKEEPER_PORT" create "$1" "" 2>&1) || true
  printf '%s\n' "$answer" >>"$STACK_DIR/logs/zookeeper.log"
  [[ $answer == *"Created $1"* || $answer == *"Node already exists"* ]]
}

zookeeper_stop() { stop_spawned zookeeper; }

zookeeper_status() {
  local running=stopped healthy=down
  pid_alive zookeeper && running=running
  zookeeper_healthy && healthy=healthy
  report zookeeper "$running" "$healthy" "127.0.0.1:$ZOOKEEPER_PORT"
}

# Replica N (1-based) of the cluster: its ports.
replica_http_port() { echo $((CLICKHOUSE_CLUSTER_HTTP_PORT + $1 - 1)); }
replica_tcp_port() { echo $((CLICKHOUSE_CLUSTER_TCP_PORT + $1 - 1)); }
replica_interserver_port() { echo $((CLICKHOUSE_CLUSTER_INTERSERVER_PORT + $1 - 1)); }

replica_healthy() {
  local n=$1
  [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$(replica_http_port "$n")/ping" 2>/dev/null) == "Ok." ]] &&
    pid_alive "clickhouse-${CLUSTER_REPLICAS[n - 1]}"
}

# Starts one replica; also used by the tests that stop one mid-stream (through compose/local).
replica_start() {
  local n=$1 name=${CLUSTER_REPLICAS[$1 - 1]}
  local dir=$STACK_DIR/clickhouse-$name http tcp interserver
  http=$(replica_http_port "$n")
  tcp=$(replica_tcp_port "$n")
  interserver=$(replica_interserver_port "$n")
  require_free_port "clickhouse-$name" "$http"
  mkdir -p "$dir/config/config.d" "$dir/data" "$dir/logs"
  local file
  for file in config.xml users.xml; do
    sed -e "s|@LOG_DIR@|$dir/logs|g" -e "s|@DATA_DIR@|$dir/data|g" \
      -e "s|@CONFIG_DIR@|$dir/config|g" -e "s|@HTTP_PORT@|$http|g" \
      -e "s|@TCP_PORT@|$tcp|g" "$COMPOSE_DIR/stack/clickhouse/$file" >"$dir/config/$file"
  done
  sed -e "s|@INTERSERVER_PORT@|$interserver|g" -e "s|@ZOOKEEPER_PORT@|$ZOOKEEPER_PORT|g" \
    -e "s|@REPLICA1_TCP_PORT@|$(replica_tcp_port 1)|g" -e "s|@REPLICA2_TCP_PORT@|$(replica_tcp_port 2)|g" \
    -e "s|@REPLICA@|$name|g" "$COMPOSE_DIR/stack/clickhouse-cluster/cluster.xml" \
    >"$dir/config/config.d/cluster.xml"
  spawn "clickhouse-$name" /usr/sbin/clickhouse-server --config-file="$dir/config/config.xml"
  wait_until "clickhouse-$name" 60 "$dir/logs/clickhouse-server.err.log" replica_healthy "$n"
}

clickhouse_cluster_healthy() {
  local n
  zookeeper_healthy || return 1
  for n in $(seq 1 ${#CLUSTER_REPLICAS[@]}); do replica_healthy "$n" || return 1; done
}

# Whether replica N has a ZooKeeper session: 18.16 crashes (a null session in createImpl) when a
# cluster statement reaches a replica that has not connected yet, as on a fresh start.
replica_in_zookeeper() {
  curl -fsS --max-time 5 "http://127.0.0.1:$(replica_http_port "$1")/" \
    --data-binary "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1
}

clickhouse_cluster_start() {
  zookeeper_healthy || zookeeper_start
  local n
  for n in $(seq 1 ${#CLUSTER_REPLICAS[@]}); do
    replica_healthy "$n" || replica_start "$n"
  done
  for n in $(seq 1 ${#CLUSTER_REPLICAS[@]}); do
    wait_until "clickhouse-${CLUSTER_REPLICAS[n - 1]}" 60 \
      "$STACK_DIR/clickhouse-${CLUSTER_REPLICAS[n - 1]}/logs/clickhouse-server.err.log" \
      replica_in_zookeeper "$n"
  done
  curl -fsS --max-time 30 "http://127.0.0.1:$(replica_http_port 1)/" \
    --data-binary "CREATE DATABASE IF NOT EXISTS metafrazo ON CLUSTER $CLICKHOUSE_CLUSTER_NAME" >/dev/null
  say "clickhouse cluster $CLICKHOUSE_CLUSTER_NAME: replicas up on http://127.0.0.1:$(replica_http_port 1) and :$(replica_http_port 2)"
}

clickhouse_cluster_stop() {
  local n
  for n in $(seq ${#CLUSTER_REPLICAS[@]} -1 1); do stop_spawned "clickhouse-${CLUSTER_REPLICAS[n - 1]}"; done
  zookeeper_stop
}

clickhouse_cluster_status() {
  local n running healthy all_ok=0
  zookeeper_status || all_ok=1
  for n in $(seq 1 ${#CLUSTER_REPLICAS[@]}); do
    running=stopped healthy=down
    pid_alive "clickhouse-${CLUSTER_REPLICAS[n - 1]}" && running=running
    replica_healthy "$n" && healthy=healthy
    report "ch-${CLUSTER_REPLICAS[n - 1]}" "$running" "$healthy" "http://127.0.0.1:$(replica_http_port "$n")" || all_ok=1
  done
  return $all_ok
}

# Tests create a database each on the cluster too; a new run drops the previous run's, each
# replica its own at once, rather than ON CLUSTER: behind the DDL queue a run leaves (thousands of
# entries) one statement ON CLUSTER took up to a minute. A replica dropping its replicated
# tables removes its own entries in ZooKeeper; the last one removes the table's.
clickhouse_cluster_drop_test_databases() {
  local n pids=() pid
  for n in $(seq 1 ${#CLUSTER_REPLICAS[@]}); do
    replica_drop_test_databases "$n" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

replica_drop_test_databases() {
  local url name
  url=http://127.0.0.1:$(replica_http_port "$1")/
  for name in $(curl -fsS --max-time 5 "$url" \
    --data-binary "SELECT name FROM system.databases WHERE startsWith(name, 'test_')"); do
    curl -fsS --max-time 60 "$url" --data-binary "DROP DATABASE IF EXISTS $name" >/dev/null
  done
}
