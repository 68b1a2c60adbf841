# Target docker with `pullPort`, sourced by scripts/gc.sh: while the writer is stopped for the
# collection, a stand-in answers on its port. It is a copy of the read-only container (same image,
# environment, certificate and users, the volume mounted read-only), so pulls through the registry's
# own endpoint go on and a push gets HTTP 405 instead of a refused connection; only the moments of
# the two port hand-overs (about a second each) stay refused. Removed again, whatever happens,
# before the writer starts.
# shellcheck shell=bash
standin="$container-gc-standin"

# `ip|port` (ip may be empty) -> docker run's -p value for the registry's port 5000
publish() { local ip=${1%%|*} port=${1##*|}; echo "${ip:+$ip:}$port:5000"; }

standin_start() {
  docker rm -f "$standin" >/dev/null 2>&1 || true
  local binding env_file
  # host IP and port the writer publishes (one binding: the registry's TLS port)
  binding=$(docker inspect -f '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}}|{{.HostPort}}{{end}}{{end}}' "$container")
  env_file=$(mktemp)
  docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$pull_container" | grep -v '^$' > "$env_file"
  docker create --name "$standin" --env-file "$env_file" --label io.private-registry.gc-standin=true \
    -p "$(publish "$binding")" -v "$volume:/var/lib/registry:ro" "$image" >/dev/null
  rm -f "$env_file"
  # TLS and users as the read-only container has them (a tar stream from one container to the other)
  docker cp "$pull_container:/etc/distribution/certs" - | docker cp - "$standin:/etc/distribution/"
  docker cp "$pull_container:/etc/distribution/auth" - | docker cp - "$standin:/etc/distribution/"
  docker start "$standin" >/dev/null
  for _ in $(seq 150); do
    docker exec "$standin" wget -q -O /dev/null "http://127.0.0.1:5001/debug/health" 2>/dev/null && return 0
    sleep 0.2
  done
  log "WARNING: the stand-in did not answer in 30 s: pulls through $container's port are refused during the collection"
}

standin_remove() { docker rm -f "$standin" >/dev/null 2>&1 || true; }
