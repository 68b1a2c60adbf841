#!/usr/bin/env bash
# shellcheck disable=SC2015  # `check && ok ... || bad ...`: ok always succeeds
# Smoke test of a running sandbox (sandbox.sh up): the registry image with TLS + htpasswd
# (health check, 401 without credentials, login/push/pull/run through the sandbox dockerd
# with the CA in /etc/docker/certs.d) and the Kubernetes API server (namespaces, a secret,
# the default ServiceAccount). Cleans up what it creates.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eval "$("$HERE/sandbox.sh" env)"
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

PORT=${SMOKE_PORT:-15000}
HOSTPORT=$SANDBOX_REGISTRY_HOST:$PORT
NAME=prsbx-smoke
WORK=$(mktemp -d)
CERTS_D=$SANDBOX_DOCKER_CERTS_D/$HOSTPORT
export DOCKER_CONFIG=$WORK/docker-config
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker rmi "$HOSTPORT/smoke/busybox:1" >/dev/null 2>&1 || true
  rm -rf "$CERTS_D" "$WORK"
  if [ -n "${KUBECONFIG:-}" ]; then kubectl delete secret smoke-secret --ignore-not-found >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; exit 1; }

# throwaway CA + server cert (SANs: the bridge address, loopback, localhost) and htpasswd
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.crt -subj /CN=smoke-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=smoke-registry 2>/dev/null
printf 'subjectAltName=IP:%s,IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$SANDBOX_REGISTRY_HOST" > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null
BCRYPT_PY=python3
/usr/bin/python3 -c 'import bcrypt' 2>/dev/null && BCRYPT_PY=/usr/bin/python3  # python3-bcrypt from apt
"$BCRYPT_PY" -c 'import bcrypt; print("smoke:" + bcrypt.hashpw(b"smoke-pass", bcrypt.gensalt(10)).decode())' > htpasswd

docker rm -f "$NAME" >/dev/null 2>&1 || true
# Created through the API, with the project's health check in exec form: plain HTTP to the debug
# listener on the container's loopback (busybox wget, no TLS).
cat > create.json <<JSON
{"Image": "$SANDBOX_REGISTRY_IMAGE",
 "Env": ["REGISTRY_HTTP_TLS_CERTIFICATE=/certs/server.crt", "REGISTRY_HTTP_TLS_KEY=/certs/server.key",
         "REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=smoke",
         "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd", "REGISTRY_HTTP_SECRET=smoke-secret",
         "REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:5001"],
 "ExposedPorts": {"5000/tcp": {}},
 "Healthcheck": {"Test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/debug/health"],
                 "Interval": 1000000000, "Timeout": 5000000000, "Retries": 30},
 "HostConfig": {"PortBindings": {"5000/tcp": [{"HostPort": "$PORT"}]}}}
JSON
curl -fsS --unix-socket "${DOCKER_HOST#unix://}" -H 'Content-Type: application/json' \
  -d @create.json "http://docker/v1.41/containers/create?name=$NAME" >/dev/null
# deliver files like the Pulumi provider's `uploads` (no host bind mounts)
mkdir -p up/certs up/auth && cp server.crt server.key up/certs/ && cp htpasswd up/auth/
docker cp up/certs "$NAME:/certs" && docker cp up/auth "$NAME:/auth"
t0=$(date +%s%N)
docker start "$NAME" >/dev/null
for _ in $(seq 60); do
  h=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
  [ "$h" = healthy ] && break
  sleep 0.5
done
[ "$h" = healthy ] || { docker logs "$NAME" | tail; bad "registry container not healthy ($h)"; }
ok "registry container healthy after $(( ($(date +%s%N) - t0) / 1000000 )) ms ($(docker exec "$NAME" registry --version))"

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.crt "https://$HOSTPORT/v2/")
[ "$code" = 401 ] && ok "GET /v2/ without credentials: 401" || bad "GET /v2/ without credentials: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.crt -u smoke:smoke-pass "https://$HOSTPORT/v2/")
[ "$code" = 200 ] && ok "GET /v2/ with credentials: 200" || bad "GET /v2/ with credentials: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.crt "https://$HOSTPORT/")
[ "$code" = 200 ] && ok "GET / (health path) without credentials: 200" || bad "GET /: $code"

# the daemon must verify the registry certificate: no CA -> x509 error
rm -rf "$CERTS_D"
if out=$(echo smoke-pass | docker login -u smoke --password-stdin "$HOSTPORT" 2>&1); then
  bad "docker login without the CA succeeded (no certificate verification?)"
fi
echo "$out" | grep -qi 'x509\|certificate' && ok "docker login without CA fails: $(echo "$out" | grep -oi 'x509: [^"]*' | head -1)" \
  || bad "docker login without CA failed for another reason: $out"

mkdir -p "$CERTS_D" && cp ca.crt "$CERTS_D/ca.crt"
echo smoke-pass | docker login -u smoke --password-stdin "$HOSTPORT" >/dev/null 2>&1 || bad "docker login with CA"
ok "docker login with CA in $CERTS_D"
docker tag "$SANDBOX_TEST_IMAGE" "$HOSTPORT/smoke/busybox:1"
docker push -q "$HOSTPORT/smoke/busybox:1" >/dev/null || bad "docker push"
ok "docker push $HOSTPORT/smoke/busybox:1"
docker rmi "$HOSTPORT/smoke/busybox:1" >/dev/null
docker pull -q "$HOSTPORT/smoke/busybox:1" >/dev/null || bad "docker pull"
ok "docker pull"
out=$(docker run --rm "$HOSTPORT/smoke/busybox:1" echo hello-from-registry)
[ "$out" = hello-from-registry ] && ok "docker run of the pulled image" || bad "docker run: $out"
docker logout "$HOSTPORT" >/dev/null

if command -v skopeo >/dev/null; then
  mkdir -p skopeo-certs && cp ca.crt skopeo-certs/ca.crt
  printf '{"auths":{"%s":{"auth":"%s"}}}' "$HOSTPORT" "$(printf smoke:smoke-pass | base64 -w0)" > auth.json
  skopeo inspect --authfile auth.json --cert-dir skopeo-certs "docker://$HOSTPORT/smoke/busybox:1" >/dev/null \
    && ok "skopeo inspect with --authfile/--cert-dir" || bad "skopeo inspect"
fi

if [ -n "${KUBECONFIG:-}" ] && [ -f "$KUBECONFIG" ]; then
  v=$(kubectl version 2>/dev/null | grep 'Server Version' || true)
  case "$v" in *v1.*) ok "kubectl version: $v" ;; *) bad "kubectl version: no server version" ;; esac
  nss=$(kubectl get ns -o name | tr '\n' ' ')
  case "$nss" in *namespace/default*) ok "kubectl get ns: $nss" ;; *) bad "kubectl get ns: $nss" ;; esac
  kubectl create secret docker-registry smoke-secret --docker-server="$HOSTPORT" \
    --docker-username=smoke --docker-password=smoke-pass >/dev/null || bad "create secret"
  [ "$(kubectl get secret smoke-secret -o jsonpath='{.type}')" = kubernetes.io/dockerconfigjson ] \
    && ok "created a kubernetes.io/dockerconfigjson secret" || bad "secret type"
  kubectl get serviceaccount default -o name >/dev/null && ok "default ServiceAccount exists in default" \
    || bad "no default ServiceAccount"
  kubectl patch serviceaccount default -p '{"imagePullSecrets":[{"name":"smoke-secret"}]}' >/dev/null || bad "patch SA"
  [ "$(kubectl get serviceaccount default -o jsonpath='{.imagePullSecrets[0].name}')" = smoke-secret ] \
    && ok "patched default ServiceAccount imagePullSecrets" || bad "SA patch not visible"
  kubectl patch serviceaccount default --type=json -p '[{"op":"remove","path":"/imagePullSecrets"}]' >/dev/null
fi
echo "smoke test passed"
