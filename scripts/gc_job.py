"""The garbage collection Job of target `kubernetes`, made from the registry Deployment itself.

    kubectl get deployment registry -o json | python3 scripts/gc_job.py [--delete-untagged] [--dry-run]

prints a Job (JSON) that runs `registry garbage-collect` once, with exactly what the registry's
Pods have: image, environment (storage driver, bucket, the S3 keys from the stack's Secret),
volumes (the claim of driver `filesystem`), resources. Nothing of the storage is repeated here, so
the Job cannot collect a different storage than the registry serves. Its Pod carries labels of its
own: no Service of the registry selects it. No probes (it serves nothing), no retries (a failed
collection is reported, not repeated), an hour at most.

Locked down as the registry's own Pods (`components/registry_kube.py`), whatever the Deployment in
the cluster says (a template edited outside Pulumi must not give the collection more): user and
group 1000, non-root, read-only root file system, no capabilities, no privilege escalation, the
`RuntimeDefault` seccomp profile, no ServiceAccount token, no Service links. Standard library only:
`scripts/gc.sh` runs it with the system's python3.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.distribution import container_security  # stdlib only, as this script

JOB_NAME = "registry-gc"
LABELS = {"app.kubernetes.io/name": JOB_NAME, "app.kubernetes.io/part-of": "private-registry"}
ALLOWED_ARGS = ("--delete-untagged", "--dry-run")
POD_LOCKDOWN = {"automountServiceAccountToken": False, "enableServiceLinks": False}
DEADLINE_SECONDS = 3600  # scripts/gc-kubernetes.sh waits as long
# The config file of the registry image (v3, older images at the second path); the environment
# overrides what matters in it, as in the registry's own Pods.
COLLECT = (
    'c=/etc/distribution/config.yml; [ -f "$c" ] || c=/etc/docker/registry/config.yml; exec registry garbage-collect "$@" "$c"'
)


def gc_job(deployment: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """The Job for `deployment` (as the API server returns it) with garbage-collect's `args`."""
    unknown = [a for a in args if a not in ALLOWED_ARGS]
    if unknown:
        raise ValueError(f"unknown argument(s) {' '.join(unknown)}; allowed: {', '.join(ALLOWED_ARGS)}")
    template = deployment["spec"]["template"]
    pod = dict(template["spec"])
    (registry,) = [c for c in pod["containers"] if c["name"] == "registry"]
    container = {k: v for k, v in registry.items() if k not in ("livenessProbe", "readinessProbe", "lifecycle", "ports")}
    # busybox's shell, as scripts/gc.sh runs it on target docker: the image has no other.
    container["command"] = ["/bin/busybox", "sh", "-c", COLLECT, "gc", *args]
    container.pop("args", None)
    container["env"] = [*container.get("env", []), {"name": "OTEL_TRACES_EXPORTER", "value": "none"}]
    container["securityContext"] = container_security()  # replaced, not merged: nothing like `privileged` stays
    # fsGroup stays the template's: the group that reads the mounted Secrets and owns the claim.
    security = {**pod.get("securityContext", {}), "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    pod.update({"containers": [container], "restartPolicy": "Never", "securityContext": security, **POD_LOCKDOWN})
    for key in ("hostNetwork", "hostPID", "hostIPC", "initContainers"):
        pod.pop(key, None)
    pod.pop("affinity", None)  # the replicas' spreading rule names their labels, not the Job's
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB_NAME, "namespace": deployment["metadata"]["namespace"], "labels": LABELS},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": LABELS}, "spec": pod},
        },
    }


def main(argv: list[str]) -> int:
    try:
        job = gc_job(json.load(sys.stdin), argv)
    except (ValueError, KeyError) as error:
        print(f"gc_job: {error}", file=sys.stderr)
        return 2
    json.dump(job, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
