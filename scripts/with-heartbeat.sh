#!/usr/bin/env bash
# Runs a long command and, while it runs, prints a line every 30 s, so that a cold build (minutes of
# a silent `go build`) never looks hung. Exits with the command's status.
#   with-heartbeat.sh LABEL CMD...
# The lines go to stderr, or to file descriptor $HEARTBEAT_FD when the caller sends the command's own
# stderr to a log (`HEARTBEAT_FD=3 with-heartbeat.sh ... 3>&2 >>log 2>&1`).
# HEARTBEAT_SECONDS changes the interval (tests).
set -uo pipefail
label=$1; shift
interval=${HEARTBEAT_SECONDS:-30}
fd=${HEARTBEAT_FD:-2}
start=$(date +%s)

beat() {
  local sleeper
  # the sleep holds none of our descriptors, so a caller reading our output never waits for it
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$interval" </dev/null >/dev/null 2>&1 &
    sleeper=$!
    wait "$sleeper"
    echo "$label: still running, $(( $(date +%s) - start ))s" >&"$fd"
  done
}
beat </dev/null >/dev/null &
beater=$!
rc=0
"$@" || rc=$?
kill -TERM "$beater" 2>/dev/null
wait "$beater" 2>/dev/null
exit "$rc"
