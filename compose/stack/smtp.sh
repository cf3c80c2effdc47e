# The SMTP sink: Debian's aiosmtpd keeping every message as a file in the Maildir .stack/mail.
# Debian's /usr/bin/python3 on purpose: the python3 first on PATH may be another interpreter
# without the Debian package's modules.

smtp_healthy() { pid_alive smtp && port_open "$SMTP_PORT"; }

smtp_start() {
  require_free_port smtp "$SMTP_PORT"
  mkdir -p "$STACK_DIR/mail/tmp" "$STACK_DIR/mail/new" "$STACK_DIR/mail/cur"
  spawn smtp /usr/bin/python3 -m aiosmtpd --nosetuid --listen "127.0.0.1:$SMTP_PORT" \
    --class aiosmtpd.handlers.Mailbox "$STACK_DIR/mail"
  wait_until smtp 20 "$STACK_DIR/logs/smtp.log" smtp_healthy
  say "smtp: sink up on 127.0.0.1:$SMTP_PORT, mail in $STACK_DIR/mail/new"
}

smtp_stop() { stop_spawned smtp; }

smtp_status() {
  local running=stopped healthy=down
  pid_alive smtp && running=running
  smtp_healthy && healthy=healthy
  report smtp "$running" "$healthy" "127.0.0.1:$SMTP_PORT (mail in .stack/mail/new)"
}
