# Installs what the stack needs, only what is missing: Debian packages, and the tansu broker
# built once into a cache outside the checkout.

DEBIAN_PACKAGES=(
  postgresql-15         # Postgres (onboarding's store)
  clickhouse-server     # ClickHouse 18.16 (the warehouse)
  clickhouse-client
  zookeeper             # coordinates the local ClickHouse cluster's replicas (Java, from Debian)
  prometheus            # Prometheus and promtool
  python3-aiosmtpd      # the local SMTP sink
  nginx                 # the front door: one address routing paths to the services
  docker-compose        # only to validate compose/docker-compose.yml; no engine runs here
  curl
  iproute2              # ss, to name who holds a port
  pkg-config            # building rdkafka-sys and openssl-sys
  libssl-dev
  zlib1g-dev
  chromium              # the headless browser of the UI tests, driven through chromedriver
  chromium-driver
  python3-venv          # compose/kubernetes/check.sh's venv, when python3 is Debian's
)
TANSU_VERSION=0.6.0
export TANSU_BIN=$CACHE_DIR/tansu-$TANSU_VERSION/bin/tansu

install_all() {
  install_debian_packages
  install_tansu
}

install_debian_packages() {
  local missing=() package
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  local log=$STACK_DIR/logs/install.log
  mkdir -p "$STACK_DIR/logs"
  if ! { "${sudo[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y \
    --no-install-recommends "${missing[@]}"; } >>"$log" 2>&1; then
    fail_note "could not install: ${missing[*]}; see $log"
    tail -n 15 "$log" >&2
    return 1
  fi
  # Debian's packages start their own daemons where an init system runs; the stack runs its
  # own instances under .stack/, so keep the system ones from holding our ports.
  stop_system_daemons
}

stop_system_daemons() {
  if command -v service >/dev/null; then
    service clickhouse-server stop >/dev/null 2>&1 || true
    service prometheus stop >/dev/null 2>&1 || true
    service postgresql stop >/dev/null 2>&1 || true
    service nginx stop >/dev/null 2>&1 || true
  fi
}

install_tansu() {
  [[ -x $TANSU_BIN ]] && return 0
  local log=$STACK_DIR/logs/install.log
  mkdir -p "$STACK_DIR/logs"
  say "building tansu $TANSU_VERSION into $CACHE_DIR (once per machine, about 12 minutes on 2 cores)"
  if ! cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql \
    --root "$CACHE_DIR/tansu-$TANSU_VERSION" >>"$log" 2>&1; then
    fail_note "could not build tansu; see $log"
    tail -n 15 "$log" >&2
    return 1
  fi
}
