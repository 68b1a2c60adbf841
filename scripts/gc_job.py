"""The garbage collection Job of target `kubernetes`, made from the registry Deployment itself.

    kubectl get deployment registry -o json | python3 scripts/gc_job.py [--delete-untagged] [--dry-run]

prints a Job (JSON) that runs `registry garbage-collect` once, with exactly what the registry's
Pods have: image, environment (storage driver, bucket, the S3 keys from the stack's Secret),
volumes (the claim of driver `filesystem`), security context. Nothing of the storage is repeated
here, so the Job cannot collect a different storage than the registry serves. Its Pod carries
labels of its own: no Service of the registry selects it. No probes (it serves nothing) and no
retries (a failed collection is reported, not repeated). Standard library only: `scripts/gc.sh`
runs it with the system's python3.
"""

from __future__ import annotations

import json
import sys
from typing import Any

JOB_NAME = "registry-gc"
LABELS = {"app.kubernetes.io/name": JOB_NAME, "app.kubernetes.io/part-of": "private-registry"}
ALLOWED_ARGS = ("--delete-untagged", "--dry-run")
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
    pod.update({"containers": [container], "restartPolicy": "Never"})
    pod.pop("affinity", None)  # the replicas' spreading rule names their labels, not the Job's
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB_NAME, "namespace": deployment["metadata"]["namespace"], "labels": LABELS},
        "spec": {
            "backoffLimit": 0,
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
