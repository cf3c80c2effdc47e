# Postgres 15: our own cluster under .stack/postgres, owned by the `postgres` system user
# (Postgres refuses to run as root), with role and database `metafrazo`.

PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=$STACK_DIR/postgres

as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_healthy() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -d metafrazo -U metafrazo 2>/dev/null &&
    [[ -f $PG_DIR/data/postmaster.pid ]]
}

postgres_start() {
  require_free_port postgres "$POSTGRES_PORT"
  mkdir -p "$PG_DIR" "$STACK_DIR/logs"
  ((EUID == 0)) && chown postgres: "$PG_DIR"
  touch "$STACK_DIR/logs/postgres.log"
  ((EUID == 0)) && chown postgres: "$STACK_DIR/logs/postgres.log"
  local fresh=false
  if [[ ! -f $PG_DIR/data/PG_VERSION ]]; then
    say "postgres: creating a cluster in $PG_DIR/data"
    as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 >>"$STACK_DIR/logs/postgres.log" 2>&1
    fresh=true
  fi
  mkdir -p "$PG_DIR/socket"
  ((EUID == 0)) && chown postgres: "$PG_DIR/socket"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$STACK_DIR/logs/postgres.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $PG_DIR/socket -c max_connections=300" \
    start >/dev/null
  if $fresh; then
    as_postgres "$PG_BIN/psql" -q -h "$PG_DIR/socket" -p "$POSTGRES_PORT" -U postgres -d postgres \
      -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE metafrazo LOGIN CREATEDB PASSWORD 'metafrazo'" \
      -c "CREATE DATABASE metafrazo OWNER metafrazo" >>"$STACK_DIR/logs/postgres.log" 2>&1
  fi
  wait_until postgres 30 "$STACK_DIR/logs/postgres.log" postgres_healthy
  say "postgres: up on 127.0.0.1:$POSTGRES_PORT"
}

postgres_stop() {
  [[ -f $PG_DIR/data/postmaster.pid ]] || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  say "postgres: stopped"
}

postgres_status() {
  local running=stopped healthy=down
  [[ -f $PG_DIR/data/postmaster.pid ]] && running=running
  postgres_healthy && healthy=healthy
  report postgres "$running" "$healthy" "127.0.0.1:$POSTGRES_PORT (role and database metafrazo)"
}

# Tests create a database each (test_<id>); a new test run drops the previous run's.
postgres_drop_test_databases() {
  local name
  for name in $(as_postgres "$PG_BIN/psql" -At -h "$PG_DIR/socket" -p "$POSTGRES_PORT" -U postgres -d postgres \
    -c "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'"); do
    as_postgres "$PG_BIN/psql" -q -h "$PG_DIR/socket" -p "$POSTGRES_PORT" -U postgres -d postgres \
      -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
  done
}
