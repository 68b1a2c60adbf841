"""Settings section target: the target's own settings (a container, or Deployments with their
storage, Service and Pods) and the port clients connect to. Pure, as settings.py, which calls
`target_section`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from .distribution import managed_variables
from .mirrors import plain_http_allowed
from .model import ContainerLimits, DockerTarget, KubernetesTarget, StorageSettings, Target
from .names import dns_label_ok, dns_subdomain_ok, docker_name_ok, object_name, size_ok
from .pods import PodSettings, parse_pods
from .problems import Problems, read_choice, read_integer, read_name, read_object
from .service import PUBLIC_REFUSED, ServiceSettings, parse_service, unsaid_public
from .setting_keys import KEYS, field_default, field_names

TARGETS = ("docker", "kubernetes")
SERVICE_TYPES = ("NodePort", "LoadBalancer")
STORAGE_DRIVERS = ("filesystem", "s3")
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod")
NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range
DEFAULT_PORT, DEFAULT_NODE_PORT = 5000, 30500
FILESYSTEM_ONLY = ("size", "storageClass", "accessMode")
STORAGE_KEYS = {  # which keys of `storage` each driver takes (all of them are in the settings table)
    "filesystem": ("driver", *FILESYSTEM_ONLY),
    "s3": tuple(k for k in field_names("storage") if k not in FILESYSTEM_ONLY),
}


def _other_targets_settings(raw: Mapping[str, Any], target: str, p: Problems) -> None:
    """Settings of the other target (the table's `only`) are refused, not ignored: a user who sets
    them expects them used. The default value itself is let through (Pulumi.yaml's declared
    defaults arrive as values).
    """
    for spec in KEYS:
        if spec.only not in (None, target) and spec.name in raw and raw[spec.name] != spec.default:
            p.add(spec.name, raw[spec.name], f"is only used with target = {spec.only}")


def _storage(raw: Mapping[str, Any], stack: str, pods: dict[str, int], p: Problems) -> StorageSettings:
    """Section storage of target kubernetes; `pods` (setting -> its Pods) all mount a claim."""
    value = raw.get("storage", {})
    driver = value.get("driver", field_default("storage.driver")) if isinstance(value, dict) else None
    if driver not in STORAGE_DRIVERS:
        p.add("storage.driver", driver, "must be filesystem (a PersistentVolumeClaim) or s3 (an S3-compatible bucket)")
        return StorageSettings(driver="filesystem")
    value = read_object(raw, "storage", STORAGE_KEYS[driver], p)

    def text(field_name: str, fallback: str | None) -> str | None:
        item = value.get(field_name, fallback)
        if item is not None and (not isinstance(item, str) or not item.strip()):
            p.add(f"storage.{field_name}", item, "must be a non-empty string")
            return fallback
        return item

    if driver == "filesystem":
        size = text("size", field_default("storage.size")) or field_default("storage.size")
        if not size_ok(size):
            p.add("storage.size", size, "must be a Kubernetes quantity of bytes above 0, such as 10Gi or 500Mi")
        storage_class = text("storageClass", None)
        if storage_class is not None and not dns_subdomain_ok(storage_class):
            p.add("storage.storageClass", storage_class, "must be a StorageClass name (a DNS-1123 subdomain)")
        mode = value.get("accessMode", field_default("storage.accessMode"))
        if mode not in ACCESS_MODES:
            p.add("storage.accessMode", mode, f"must be one of {', '.join(ACCESS_MODES)}")
            mode = field_default("storage.accessMode")
        elif sum(pods.values()) > 1 and mode != "ReadWriteMany":
            counted = " + ".join(f"{setting} = {n}" for setting, n in pods.items())
            fewer = "set replicas = 1" if len(pods) == 1 else "drop pullPort and set replicas = 1"
            allowed = (
                "every Pod mounts the same volume, which needs ReadWriteMany (a storage class that offers it, e.g. NFS "
                f"or CephFS); or {fewer}, or use storage.driver = s3"
            )
            if "accessMode" in value:  # both said: the claim is the one to name
                p.add("storage.accessMode", mode, f"cannot serve {counted}: {allowed}")
            else:  # the default claim: name the count that asks for more
                asked = (k for k in ("replicas", "pullReplicas") if k in pods and pods[k] > 1 and k in raw)
                said = next(asked, "pullPort")
                p.add(said, raw.get(said), f"asks for {counted} on storage.accessMode = {mode} (the default): {allowed}")
        return StorageSettings(driver="filesystem", size=size, storage_class=storage_class, access_mode=str(mode))

    bucket = text("bucket", None)
    if bucket is None:
        p.add("storage.bucket", None, "is required with storage.driver = s3: an existing bucket")
    elif not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        p.add("storage.bucket", bucket, "must be an S3 bucket name (3..63 of a-z, 0-9, '.', '-')")
    region = text("region", field_default("storage.region")) or field_default("storage.region")
    endpoint = text("endpoint", None)
    if endpoint is not None and not re.fullmatch(r"https?://[^/\s]+/?", endpoint):
        p.add("storage.endpoint", endpoint, "must be the S3 API's base URL, http(s)://host[:port]")
    elif endpoint is not None:  # the S3 keys and every image over plain HTTP only when said (mirrors.py)
        plain_http_allowed(endpoint, "storage.endpoint", value, "storage", p.add)
    root = text("rootDirectory", f"/registry-{stack}") or ""
    if not root.startswith("/"):
        p.add("storage.rootDirectory", root, "must start with '/': the prefix of every object the registry writes")
    access_key, secret_key = text("accessKey", None), text("secretKey", None)
    if (access_key is None) != (secret_key is None):
        p.add(
            "storage.accessKey" if access_key is None else "storage.secretKey",
            None,
            "set storage.accessKey and storage.secretKey together, or neither (the node's own credentials)",
        )
    return StorageSettings(
        driver="s3",
        bucket=bucket or "",
        region=region,
        endpoint=endpoint.rstrip("/") if endpoint else None,
        root_directory=root,
        access_key=access_key,
        secret_key=secret_key,
    )


def target_section(raw: Mapping[str, Any], stack: str, p: Problems) -> tuple[Target, int]:
    """Section target: the target's own settings, and the port clients connect to."""
    kind = read_choice(raw, "target", TARGETS, "must be docker (a container on the Docker host) or kubernetes", p)
    service_type = read_choice(raw, "serviceType", SERVICE_TYPES, "must be NodePort or LoadBalancer", p)
    node_port = kind == "kubernetes" and service_type == "NodePort"
    port = read_integer(raw, "port", p, default_value=DEFAULT_NODE_PORT if node_port else DEFAULT_PORT)
    if node_port and not NODE_PORT_RANGE[0] <= port <= NODE_PORT_RANGE[1]:
        p.add(
            "port",
            port,
            f"is the NodePort with target = kubernetes and serviceType = NodePort: it must be in "
            f"{NODE_PORT_RANGE[0]}..{NODE_PORT_RANGE[1]} (the API server's default --service-node-port-range)",
        )
    _other_targets_settings(raw, kind, p)
    if kind == "docker":
        allowed = "must start with a letter or digit, then letters, digits, '_', '.' or '-'"
        container_name = read_name(raw, "containerName", f"registry-{stack}", docker_name_ok, allowed, p)
        data_volume = read_name(raw, "dataVolume", f"registry-data-{stack}", docker_name_ok, allowed, p)
        return DockerTarget(container_name=container_name, data_volume=data_volume, limits=_limits(raw, p)), port
    # One Pod on a claim only one node mounts; two where every Pod shares the data.
    replicas_default = 2 if shared_storage(raw.get("storage")) else 1
    replicas = read_integer(raw, "replicas", p, default_value=replicas_default)
    pull_replicas = read_integer(raw, "pullReplicas", p, default_value=replicas_default)
    pods = {"replicas": replicas}
    if "pullPort" in raw:
        pods["pullReplicas"] = pull_replicas
    elif "pullReplicas" in raw:
        p.add("pullReplicas", pull_replicas, "is only used with pullPort (the read-only Deployment's Pods)")
    namespace = read_name(raw, "namespace", object_name("registry", stack), dns_label_ok,
                      "must be a namespace name (a DNS-1123 label: a-z, 0-9, '-', at most 63)", p)  # fmt: skip
    storage = _storage(raw, stack, pods, p)
    if storage.driver == "s3" and raw.get("retainData") is False:
        p.add(
            "retainData",
            False,
            "is refused with storage.driver = s3: the program never deletes objects from the bucket; remove "
            "the prefix storage.rootDirectory with your S3 tools after `pulumi destroy`",
        )
    kube_service: Literal["NodePort", "LoadBalancer"] = "LoadBalancer" if service_type == "LoadBalancer" else "NodePort"
    service = _service(raw, kube_service, p)
    target = KubernetesTarget(
        namespace=namespace,
        replicas=replicas,
        pull_replicas=pull_replicas,
        service_type=kube_service,
        service=service,
        storage=storage,
        pods=_pods(raw, p),
    )
    return target, port


def shared_storage(storage: Any) -> bool:
    """Whether the `storage` setting gives every Pod the same data: driver s3, or a ReadWriteMany claim."""
    if not isinstance(storage, dict):
        return False
    driver = storage.get("driver", field_default("storage.driver"))
    return driver == "s3" or (driver == "filesystem" and storage.get("accessMode") == "ReadWriteMany")


def _service(raw: Mapping[str, Any], service_type: str, p: Problems) -> ServiceSettings:
    """Section service (service.py): the reachable Services' settings; a public LoadBalancer must be said."""

    def problem(path: str, value: Any, message: str) -> None:
        p.add(f"service.{path}" if path else "service", value, message)

    service = parse_service(read_object(raw, "service", field_names("service"), p), service_type, problem)
    if unsaid_public(service, service_type):
        p.add("serviceType", service_type, PUBLIC_REFUSED)
    return service


def _limits(raw: Mapping[str, Any], p: Problems) -> ContainerLimits:
    """Section container (target docker): memory and CPU limits and log rotation of every registry container."""
    value = read_object(raw, "container", field_names("container"), p)
    limits = ContainerLimits()
    memory = value.get("memoryMiB", limits.memory_mib)
    if isinstance(memory, bool) or not isinstance(memory, int) or not 64 <= memory <= 1048576:
        p.add("container.memoryMiB", memory, "must be an integer in 64..1048576 (MiB)")
        memory = limits.memory_mib
    cpus = value.get("cpus", limits.cpus)
    if not cpus_ok(cpus):
        p.add("container.cpus", cpus, "must be a number of CPUs in 0.1..1024 in steps of 0.1 (1, 1.5, 2), or 0: no limit")
        cpus = limits.cpus
    size = value.get("logMaxSize", limits.log_max_size)
    if not isinstance(size, str) or not re.fullmatch(r"[1-9][0-9]*[kmg]", size):
        p.add("container.logMaxSize", size, "must be a size such as 10m, 500k or 1g (json-file's max-size)")
        size = limits.log_max_size
    files = value.get("logMaxFiles", limits.log_max_files)
    if isinstance(files, bool) or not isinstance(files, int) or not 1 <= files <= 100:
        p.add("container.logMaxFiles", files, "must be an integer in 1..100 (json-file's max-file)")
        files = limits.log_max_files
    return ContainerLimits(memory_mib=memory, cpus=cpus, log_max_size=size, log_max_files=files)


def cpus_ok(cpus: Any) -> bool:
    """`container.cpus`: 0 (no limit), or tenths of a CPU below any host's size: the docker provider
    reads a limit back rounded to one decimal where its nine decimals hold nine zeros (0.05 as
    0.1), and such a value would replace the container on every `up`; tenths read back as given.
    """
    if isinstance(cpus, bool) or not isinstance(cpus, int | float):
        return False
    return cpus == 0 or (0.1 <= cpus <= 1024 and abs(cpus * 10 - round(cpus * 10)) < 1e-6)


def _pods(raw: Mapping[str, Any], p: Problems) -> PodSettings:
    """Section pods (pods.py): placement and identity of the registry's Pods."""

    def problem(path: str, value: Any, message: str) -> None:
        p.add(f"pods.{path}" if path else "pods", value, message)

    return parse_pods(raw.get("pods", {}), managed_variables(), problem)
