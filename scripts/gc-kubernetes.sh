# Garbage collection of target kubernetes, sourced by scripts/gc.sh (which has set stack, project,
# gc_args and the helpers output, log, die, now, secs, release_lock, and the docker and kubectl
# that get only the environment they read). See gc.sh for what it does.
# shellcheck shell=bash
type -P kubectl >/dev/null || die "kubectl not found: target kubernetes is collected with kubectl (install it, or put it on PATH)"
namespace=$(output registryNamespace) || die "no outputs for stack '$stack': run pulumi up first"
deployment=$(output registryDeployment)
pull_deployment=$(output pullDeployment 2>/dev/null) || pull_deployment=""
settings=$(pulumi config get kubernetes --stack "$stack" --cwd "$project" 2>/dev/null) || settings="{}"
read -r mode context < <(python3 -c 'import json,sys; k=json.loads(sys.argv[1] or "{}"); print(k.get("mode","cluster"), k.get("context",""))' "$settings")
[ "$mode" = cluster ] || die "stack '$stack' has kubernetes.mode = $mode: only a stack that writes into a cluster has a registry to collect"
kube=(kubectl ${context:+--context "$context"} -n "$namespace")
selector=app.kubernetes.io/name=$deployment

spec=$("${kube[@]}" get deployment "$deployment" -o json) || die "Deployment $deployment not found in namespace $namespace: run pulumi up"
replicas=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["spec"]["replicas"])' "$spec")
[ "$replicas" -gt 0 ] || die "Deployment $deployment has 0 replicas: an earlier gc.sh was interrupted? run pulumi up, then gc.sh again"
job=$(python3 "$repo/scripts/gc_job.py" "${gc_args[@]}" <<<"$spec")
job_name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["metadata"]["name"])' "$job")
"${kube[@]}" delete job "$job_name" --ignore-not-found --wait=true >/dev/null  # one of an earlier run, kept for its logs

# With a read-only Deployment, the registry's Service points at its Pods for the collection: pulls
# through the registry's own endpoint go on too, and a push gets HTTP 405 at once (not a refused or
# hanging connection). Connections already open finish on the writer while it drains.
route_to() { "${kube[@]}" patch service "$deployment" --type merge -p "{\"spec\":{\"selector\":{\"app.kubernetes.io/name\":\"$1\"}}}" >/dev/null; }
restore() {
  "${kube[@]}" scale deployment "$deployment" --replicas="$replicas" >/dev/null ||
    log "WARNING: could not scale $deployment back to $replicas: run pulumi up"
  if [ -n "$pull_deployment" ]; then
    "${kube[@]}" rollout status deployment "$deployment" --timeout=600s >/dev/null || true
    route_to "$deployment" || log "WARNING: could not point Service $deployment back at its Pods: run pulumi up"
  fi
}

t_stop=$(now)
trap 'restore; release_lock' EXIT
if [ -n "$pull_deployment" ]; then
  route_to "$pull_deployment"
  # Scale the writer down only once the Service's endpoints are the read-only Pods alone, and
  # kube-proxy has had time to program them (its default minSyncPeriod is 1 s): else a new
  # connection could meet a writer that is already terminating and be refused.
  for _ in $(seq 150); do
    pods=$("${kube[@]}" get endpointslices -l "kubernetes.io/service-name=$deployment" \
      -o jsonpath='{range .items[*].endpoints[*]}{.targetRef.name}{"\n"}{end}')
    [ -n "$pods" ] && ! grep -qv "^$pull_deployment-" <<<"$pods" && break
    sleep 0.2
  done
  sleep 2
fi
"${kube[@]}" scale deployment "$deployment" --replicas=0 >/dev/null
# No writer may run during the mark phase: wait until every one of its Pods is gone.
"${kube[@]}" wait --for=delete pod -l "$selector" --timeout=300s >/dev/null 2>&1 || true
[ -z "$("${kube[@]}" get pods -l "$selector" -o name)" ] || die "Pods of $deployment still running after 300 s"
t_stopped=$(now)
log "collecting the storage of $deployment (namespace $namespace) with Job $job_name${gc_args[*]:+ (${gc_args[*]})}"
t_gc=$(now)
"${kube[@]}" apply -f - >/dev/null <<<"$job"
status=""
for _ in $(seq 18000); do  # at most an hour
  status=$("${kube[@]}" get job "$job_name" -o jsonpath='{.status.succeeded}/{.status.failed}')
  case $status in 1/*) break ;; */1) break ;; esac
  sleep 0.2
done
t_gc_done=$(now)
"${kube[@]}" logs "job/$job_name" 2>&1 | tail -n 5 >&2 || true
case $status in
  1/*) ;;
  */1) die "the collection failed (Job $job_name kept for its logs: kubectl logs job/$job_name -n $namespace)" ;;
  *) die "the collection did not finish within an hour (Job $job_name stopped by its deadline)" ;;
esac
"${kube[@]}" delete job "$job_name" --wait=false >/dev/null
case " ${gc_args[*]:-} " in
  *" --dry-run "*) ;;
  *) # for scripts/status.sh; a ConfigMap of its own, so nothing the stack declares drifts
    "${kube[@]}" create configmap registry-gc --from-literal=last="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      --dry-run=client -o yaml | "${kube[@]}" apply -f - >/dev/null || log "WARNING: could not record the collection's time" ;;
esac
trap release_lock EXIT
restore
"${kube[@]}" rollout status deployment "$deployment" --timeout=600s >/dev/null ||
  die "$deployment did not become ready again after the collection"
t_ready=$(now)
echo "gc: collection $(secs "$t_gc" "$t_gc_done") s (Job $job_name); $deployment's Pods away $(secs "$t_stop" "$t_ready") s (scaled to 0 in $(secs "$t_stop" "$t_stopped") s, $replicas replica(s) ready again)"
if [ -n "$pull_deployment" ]; then
  ready=$("${kube[@]}" get deployment "$pull_deployment" -o jsonpath='{.status.readyReplicas}')
  echo "gc: pulls through the read-only Deployment $pull_deployment went on during the collection (now ${ready:-0} ready); the registry's Service sent to it meanwhile (pushes got HTTP 405)"
else
  echo "gc: pulls and pushes were unavailable meanwhile (no pullPort: no read-only Deployment to serve them)"
fi
