# The front door: Debian's nginx on FRONT_DOOR_ADDR, one address routing each path to ingress,
# onboarding or the dashboards (compose/proxy/routes.conf), as production's one public URL does.
# The services' public URLs (PUBLIC_BASE_URL, DASHBOARDS_URL, ONBOARDING_URL) name it, so links
# in emails, redirects and the session cookie all stay on it.

PROXY_DIR=$STACK_DIR/proxy
PROXY_ROUTES=$COMPOSE_DIR/proxy/routes.conf

# The configuration for the current addresses, on stdout.
proxy_render() {
  local user=""
  # As root, nginx would run its workers as nobody, who cannot write the temp paths under
  # .stack/; run them as whoever runs the stack, as every other component runs.
  ((EUID == 0)) && user="user $(id -un) $(id -gn);"
  # Twice ingress's limit: ingress answers an oversized delivery (413) itself.
  local max_body=$((2 * ${INGRESS_MAX_BODY_BYTES:-1048576}))
  sed -e "s|@USER@|$user|" -e "s|@DIR@|$PROXY_DIR|g" -e "s|@LOGS@|$STACK_DIR/logs|g" \
    -e "s|@INGRESS@|$INGRESS_ADDR|" -e "s|@ONBOARDING@|$ONBOARDING_ADDR|" \
    -e "s|@DASHBOARDS@|$DASHBOARDS_ADDR|" -e "s|@FRONT_DOOR@|$FRONT_DOOR_ADDR|" \
    -e "s|@MAX_BODY@|$max_body|" -e "s|@ROUTES@|$PROXY_ROUTES|" \
    "$COMPOSE_DIR/stack/nginx.conf"
}

# Current: started from the configuration the addresses and routes give now.
proxy_current() {
  pid_alive proxy && cmp -s <(proxy_render) "$PROXY_DIR/nginx.conf" &&
    [[ ! $PROXY_ROUTES -nt $(pid_file proxy) ]]
}

# nginx itself answers: /healthz is refused on the front door without asking any service.
proxy_answers() {
  [[ $(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://$FRONT_DOOR_ADDR/healthz" 2>/dev/null) == 404 ]]
}

proxy_healthy() { proxy_current && proxy_answers; }

proxy_start() {
  stop_spawned proxy
  require_free_port proxy "${FRONT_DOOR_ADDR##*:}"
  mkdir -p "$PROXY_DIR/tmp" "$STACK_DIR/logs"
  proxy_render >"$PROXY_DIR/nginx.conf"
  # -e: nginx opens its error log before reading the configuration; not /var/log/nginx.
  local nginx=(/usr/sbin/nginx -p "$PROXY_DIR/" -c "$PROXY_DIR/nginx.conf" -e "$STACK_DIR/logs/proxy.log")
  "${nginx[@]}" -t -q || {
    fail_note "proxy: nginx refused $PROXY_DIR/nginx.conf (above)"
    return 1
  }
  spawn proxy "${nginx[@]}"
  wait_until proxy 20 "$STACK_DIR/logs/proxy.log" proxy_healthy
  say "proxy: the front door on http://$FRONT_DOOR_ADDR"
}

proxy_stop() { stop_spawned proxy; }

proxy_status() {
  local running=stopped healthy=down
  pid_alive proxy && running=running
  proxy_healthy && healthy=healthy
  report proxy "$running" "$healthy" "http://$FRONT_DOOR_ADDR (the front door)"
}

# Asserts that the front door sends a handful of paths to the right service, told apart by
# answers only that service gives (the stack must be up). `compose/local test` runs it.
proxy_check_routes() {
  local base=http://$FRONT_DOOR_ADDR org failures=0
  org=$(cat /proc/sys/kernel/random/uuid)
  # name, expected status, a pattern the answer (headers and body) must hold, curl arguments.
  local checks=(
    "onboarding: the Connect descriptor|200|\"baseUrl\"|$base/atlassian-connect.json"
    "onboarding: sign-in|200|action=\"/sign-in\"|$base/sign-in"
    "onboarding: an organization's members page|303|[Ll]ocation: /sign-in\?next=%2Forgs%2F$org%2Fmembers|$base/orgs/$org/members"
    "onboarding: the API tokens page|303|[Ll]ocation: /sign-in\?next=%2Faccount%2Ftokens|$base/account/tokens"
    "dashboards: the root|303|[Ll]ocation: [^ ]*/sign-in\?next=%2F|$base/"
    "dashboards: an organization's overview|303|[Ll]ocation: [^ ]*/sign-in\s*$|$base/orgs/$org"
    "dashboards: the JSON API|401|\"error\":\"unauthenticated\"|$base/api/v1/orgs"
    "ingress: Connect events|401|\"error\":\"missing_token\"|-X POST -H Content-Type:application/json -d {} $base/atlassian/events"
    "front door: /healthz stays off it|404|nginx|$base/healthz"
    "front door: /metrics stays off it|404|nginx|$base/metrics"
  )
  local check name status pattern args answer got
  for check in "${checks[@]}"; do
    IFS='|' read -r name status pattern args <<<"$check"
    # shellcheck disable=SC2086 # the arguments are words
    answer=$(curl -sS --max-time 5 -i $args 2>&1 | tr -d '\r') || true
    got=$(head -n 1 <<<"$answer" | cut -d' ' -f2)
    if [[ $got == "$status" ]] && grep -Eq "$pattern" <<<"$answer"; then
      say "front door: ok   $name"
    else
      fail_note "front door: FAIL $name: expected $status and /$pattern/, got:"
      head -n 12 <<<"$answer" >&2
      failures=$((failures + 1))
    fi
  done
  ((failures == 0))
}
