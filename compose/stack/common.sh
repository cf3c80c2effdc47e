# Shared by every component script: where things live, ports, pid files, waiting and messages.

STACK_DIR=${METAFRAZO_STACK_DIR:-$ROOT/.stack}
# Built once per machine and reused across checkouts (tansu takes ~12 minutes to compile).
CACHE_DIR=${METAFRAZO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/metafrazo}

POSTGRES_PORT=${POSTGRES_PORT:-5432}
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}
CLICKHOUSE_TCP_PORT=${CLICKHOUSE_TCP_PORT:-9000}
KAFKA_PORT=${KAFKA_PORT:-9092}
# The local ClickHouse cluster (compose/stack/clickhouse_cluster.sh): ZooKeeper, and two replicas
# on consecutive ports from these.
ZOOKEEPER_PORT=${ZOOKEEPER_PORT:-2181}
CLICKHOUSE_CLUSTER_HTTP_PORT=${CLICKHOUSE_CLUSTER_HTTP_PORT:-8124}
CLICKHOUSE_CLUSTER_TCP_PORT=${CLICKHOUSE_CLUSTER_TCP_PORT:-9001}
CLICKHOUSE_CLUSTER_INTERSERVER_PORT=${CLICKHOUSE_CLUSTER_INTERSERVER_PORT:-9011}
CLICKHOUSE_CLUSTER_NAME=metafrazo
SMTP_PORT=${SMTP_PORT:-1025}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
# Durable by default; `memory://tansu/` is ~35x faster and forgets everything on restart.
# tansu resolves a sqlite URL against its working directory, .stack/kafka.
KAFKA_STORAGE=${KAFKA_STORAGE:-sqlite://tansu.db}

# What the services (and the tests) read; the same names as in docker-compose.yml.
# The local stack runs on the development fallbacks (the committed SECRETS_KEY, the simulator's
# plain-http URLs), which the services refuse unless told they are local.
export DEPLOYMENT=${DEPLOYMENT:-local}
export INGRESS_ADDR=${INGRESS_ADDR:-127.0.0.1:8080}
export ONBOARDING_ADDR=${ONBOARDING_ADDR:-127.0.0.1:8081}
export DASHBOARDS_ADDR=${DASHBOARDS_ADDR:-127.0.0.1:8082}
# Each service's admin port: /healthz, /readyz and /metrics answer only there (the pipeline has
# no other port).
export INGRESS_ADMIN_ADDR=${INGRESS_ADMIN_ADDR:-127.0.0.1:9180}
export ONBOARDING_ADMIN_ADDR=${ONBOARDING_ADMIN_ADDR:-127.0.0.1:9181}
export DASHBOARDS_ADMIN_ADDR=${DASHBOARDS_ADMIN_ADDR:-127.0.0.1:9182}
export PIPELINE_ADMIN_ADDR=${PIPELINE_ADMIN_ADDR:-127.0.0.1:9183}
# The front door (compose/stack/proxy.sh): one address for the Jira callbacks, onboarding and the
# dashboards, as in production. The services' public URLs name it, so the links in emails,
# redirects and the session cookie all stay on one origin.
export FRONT_DOOR_ADDR=${FRONT_DOOR_ADDR:-127.0.0.1:8000}
export DASHBOARDS_URL=${DASHBOARDS_URL:-http://$FRONT_DOOR_ADDR}
export ONBOARDING_URL=${ONBOARDING_URL:-http://$FRONT_DOOR_ADDR}
export DATABASE_URL=${DATABASE_URL:-postgres://metafrazo:metafrazo@127.0.0.1:$POSTGRES_PORT/metafrazo}
export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:$CLICKHOUSE_HTTP_PORT}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}
export SMTP_URL=${SMTP_URL:-smtp://127.0.0.1:$SMTP_PORT}
export PROMETHEUS_URL=${PROMETHEUS_URL:-http://127.0.0.1:$PROMETHEUS_PORT}
export METAFRAZO_STACK_DIR=$STACK_DIR
# Static group membership for the stack's one pipeline: tansu 0.6 does not expire a killed
# member's session, so without it a restarted pipeline would wait for partitions forever.
export KAFKA_GROUP_INSTANCE_ID=${KAFKA_GROUP_INSTANCE_ID:-pipeline-local}
# 90 days, not the hour a deployment keeps: the golden path's Data Center walk sends seeded
# issue lifecycles made weeks ago, which a real Jira never would.
export INGRESS_REPLAY_WINDOW_SECS=${INGRESS_REPLAY_WINDOW_SECS:-7776000}
# Flow compactions every 30 s, not every 10 minutes: the stack's tables are small, and the
# golden path waits for one to check the flow view reads compacted facts as it reads FINAL.
export FLOW_COMPACT_INTERVAL_SECS=${FLOW_COMPACT_INTERVAL_SECS:-30}
# The front door (nginx) appends the client's address to X-Forwarded-For: onboarding's sign-in
# limit per client reads that entry, and no other.
export FORWARDED_FOR_HOPS=${FORWARDED_FOR_HOPS:-1}

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
fail_note() { printf '\033[31mxx\033[0m %s\n' "$*" >&2; }
die() {
  fail_note "$*"
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refuses to start a component whose port another process holds.
require_free_port() {
  local name=$1 port=$2
  if port_open "$port"; then
    fail_note "$name: port $port on 127.0.0.1 is taken by another process:"
    ss -ltnp "sport = :$port" >&2 || true
    fail_note "stop that process, or choose another port (see README: Configuration)"
    return 1
  fi
}

pid_file() { echo "$STACK_DIR/run/$1.pid"; }

pid_alive() {
  local file
  file=$(pid_file "$1")
  [[ -f $file ]] && kill -0 "$(cat "$file")" 2>/dev/null
}

# Starts a command in the background, its output in .stack/logs/NAME.log, its pid recorded.
spawn() {
  local name=$1
  shift
  mkdir -p "$STACK_DIR/logs" "$STACK_DIR/run"
  setsid "$@" >>"$STACK_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

# Stops what `spawn` started: SIGTERM, then SIGKILL after a grace period.
stop_spawned() {
  local name=$1 file pid
  file=$(pid_file "$name")
  [[ -f $file ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    say "$name: stopped"
  fi
  rm -f "$file"
}

# Waits until CHECK succeeds; fails with the log's tail if it does not in time or NAME died.
wait_until() {
  local name=$1 seconds=$2 log=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  while ! "$@"; do
    if ((SECONDS >= deadline)); then
      fail_note "$name: not ready after ${seconds}s; last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    if [[ -f $(pid_file "$name") ]] && ! pid_alive "$name"; then
      fail_note "$name: exited while starting; last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
}

http_ok() { curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null; }

report() {
  local name=$1 running=$2 healthy=$3 detail=$4
  printf '%-12s %-8s %-9s %s\n' "$name" "$running" "$healthy" "$detail"
  [[ $healthy == healthy ]]
}
