"""Setting `pods` (target `kubernetes`): where the registry's Pods run, as whom, with what.

One object, named as the Distribution Helm chart's users know the knobs (`resources`,
`nodeSelector`, `tolerations`, `affinity`, `topologySpreadConstraints`, `priorityClassName`, Pod
`annotations` and `labels`, `serviceAccount`, `imagePullSecrets`, `env`). Pure: validation here,
the Pod template in `registry_kube.py`. Every value is checked before anything is created; a
problem names its path (`pods.tolerations[1].effect`) and what is allowed.

Both Deployments (the registry and its read-only `registry-pull`) get the same placement; the
garbage collection Job inherits it from the registry's Pod template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .names import NAME_LABEL, PART_OF_LABEL, QUANTITY, dns_subdomain_ok, quantity
from .problems import Problem
from .setting_keys import field_names

# One CPU at most: measured enough for a garbage collection and a burst of pulls (docs/operations.md
# "CPU and memory"), while a runaway registry leaves the node's other cores to its neighbours.
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
SERVICE_ACCOUNT = "registry"  # the name of a ServiceAccount the stack creates (serviceAccount.create)
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Labels the selectors use: a Pod label of the same key would move the Pods out of their Service.
SELECTOR_LABELS = (NAME_LABEL, PART_OF_LABEL)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_PART = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")


@dataclass(frozen=True)
class ServiceAccountSettings:
    """`pods.serviceAccount`: none (the namespace's default, no token mounted), one the stack
    creates (`create: true`, with `annotations` such as IRSA's role ARN), or an existing one by name.
    """

    create: bool = False
    name: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def account(self) -> str | None:
        """The ServiceAccount the Pods run as, if not the default."""
        return self.name or (SERVICE_ACCOUNT if self.create else None)


@dataclass(frozen=True)
class PodSettings:
    """The validated `pods` setting; the defaults are the Pods as they ran before it existed."""

    resources: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_RESOURCES)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    affinity: Mapping[str, Any] | None = None  # None: the replicas spread over nodes where they can
    topology_spread_constraints: tuple[Mapping[str, Any], ...] = ()
    priority_class_name: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    service_account: ServiceAccountSettings = field(default_factory=ServiceAccountSettings)
    image_pull_secrets: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # delivered through the Secret registry-env


def qualified_name_ok(key: str) -> bool:
    """A label or annotation key: `[prefix/]name`, prefix a DNS subdomain, name up to 63 characters."""
    prefix, _, name = key.rpartition("/")
    return bool(_NAME_PART.fullmatch(name)) and (not prefix or dns_subdomain_ok(prefix))


def as_text(value: Any) -> Any:
    """`pulumi config set --path ... true` (or `5`) stores a YAML boolean or number where Kubernetes
    takes a string: take it as the string it was typed as.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _string_map(value: Any, path: str, problem: Problem, label_values: bool = False) -> dict[str, str]:
    if not isinstance(value, dict):
        problem(path, value, "must be an object of string keys and values")
        return {}
    good: dict[str, str] = {}
    for k, v in value.items():
        v = as_text(v)
        if not qualified_name_ok(str(k)):
            problem(f"{path}.{k}", v, "key must be a label key: [prefix/]name, name up to 63 of a-z, A-Z, 0-9, '-', '_', '.'")
        elif not isinstance(v, str) or (label_values and v and not _NAME_PART.fullmatch(v)):
            what = "a label value (up to 63 of a-z, A-Z, 0-9, '-', '_', '.')" if label_values else "a string"
            problem(f"{path}.{k}", v, f"must be {what}")
        else:
            good[str(k)] = v
    return good


def _resources(value: Any, problem: Problem) -> dict[str, dict[str, str]]:
    """`resources` as given (it replaces the default as a whole, as in a Pod spec); every amount a
    quantity, no limit of 0 (Kubernetes would refuse it beside a request, or take it as no limit),
    no request above its limit.
    """
    if not isinstance(value, dict) or set(value) - {"requests", "limits"}:
        problem("resources", value, "must be an object {requests?, limits?}, each {cpu?, memory?}")
        return DEFAULT_RESOURCES
    out: dict[str, dict[str, str]] = {}
    for part, amounts in value.items():
        if not isinstance(amounts, dict) or set(amounts) - {"cpu", "memory"}:
            problem(f"resources.{part}", amounts, "must be an object {cpu?, memory?}")
            continue
        out[part] = {}
        for name, amount in amounts.items():
            amount = as_text(amount)  # `pulumi config set --path ... 2` stores a number: meant as "2"
            if not isinstance(amount, str) or not QUANTITY.fullmatch(amount):
                problem(f"resources.{part}.{name}", amount, "must be a Kubernetes quantity such as 100m, 0.5, 256Mi or 1Gi")
            elif part == "limits" and quantity(amount) == 0:
                problem(
                    f"resources.{part}.{name}",
                    amount,
                    f"must be above 0: for no {name} limit, leave limits.{name} out (resources replaces the default as a whole)",
                )
            else:
                out[part][name] = amount
    for name, request in out.get("requests", {}).items():
        limit = out.get("limits", {}).get(name)
        if limit is not None and quantity(request) > quantity(limit):
            problem(f"resources.requests.{name}", request, f"must be at most resources.limits.{name} ({limit})")
    return out


def _tolerations(value: Any, problem: Problem) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        problem("tolerations", value, "must be a list of {key, operator, value, effect, tolerationSeconds}")
        return ()
    allowed = {"key", "operator", "value", "effect", "tolerationSeconds"}
    good = []
    for i, item in enumerate(value):
        where = f"tolerations[{i}]"
        if not isinstance(item, dict) or set(item) - allowed:
            problem(where, item, f"must be an object with keys among {', '.join(sorted(allowed))}")
            continue
        operator = item.get("operator", "Equal")
        if operator not in TOLERATION_OPERATORS:
            problem(f"{where}.operator", operator, "must be Exists or Equal")
        elif operator == "Exists" and item.get("value"):
            problem(f"{where}.value", item["value"], "must be empty with operator Exists")
        if "effect" in item and item["effect"] not in TOLERATION_EFFECTS:
            problem(f"{where}.effect", item["effect"], f"must be one of {', '.join(TOLERATION_EFFECTS)} (or left out: all)")
        if "tolerationSeconds" in item and (not isinstance(item["tolerationSeconds"], int) or item.get("effect") != "NoExecute"):
            problem(f"{where}.tolerationSeconds", item["tolerationSeconds"], "must be an integer, with effect NoExecute only")
        if "key" in item and not qualified_name_ok(str(item["key"])):
            problem(f"{where}.key", item["key"], "must be a taint key: [prefix/]name")
        good.append(dict(item))
    return tuple(good)


def _objects(value: Any, path: str, problem: Problem) -> tuple[dict[str, Any], ...]:
    """A list of Kubernetes objects passed through as given (the API server checks their schema)."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problem(path, value, "must be a list of objects, as in a Pod spec")
        return ()
    return tuple(dict(item) for item in value)


def _service_account(value: Any, problem: Problem) -> ServiceAccountSettings:
    if not isinstance(value, dict) or set(value) - {"create", "name", "annotations"}:
        problem("serviceAccount", value, "must be an object {create?, name?, annotations?}")
        return ServiceAccountSettings()
    create, name = value.get("create", False), value.get("name")
    if not isinstance(create, bool):
        problem("serviceAccount.create", create, "must be true or false")
        create = False
    if name is not None and (not isinstance(name, str) or not dns_subdomain_ok(name)):
        problem("serviceAccount.name", name, "must be a ServiceAccount name (a DNS-1123 subdomain)")
        name = None
    annotations = _string_map(value.get("annotations", {}), "serviceAccount.annotations", problem)
    if annotations and not create:
        problem(
            "serviceAccount.annotations",
            annotations,
            "needs serviceAccount.create = true: the stack annotates only a ServiceAccount it creates",
        )
    return ServiceAccountSettings(create=create, name=name, annotations=annotations)


def _env(value: Any, managed: frozenset[str], problem: Problem) -> dict[str, str]:
    if not isinstance(value, dict):
        problem("env", value, "must be an object of variable name -> string value")
        return {}
    good: dict[str, str] = {}
    for name, raw_text in value.items():
        text = as_text(raw_text)
        if not _ENV_NAME.fullmatch(str(name)):
            problem(f"env.{name}", None, "name must be a variable name (letters, digits, '_', not first a digit)")
        elif name in managed:
            problem(f"env.{name}", None, "is set by the program (TLS, auth, storage, health): change the setting it comes from")
        elif not isinstance(text, str):
            problem(f"env.{name}", None, "must be a string")
        else:
            good[str(name)] = text
    return good


def parse_pods(value: Any, managed_env: frozenset[str], problem: Problem) -> PodSettings:
    """Validate `pods`; `managed_env`: the variables the program sets itself, which `env` may not."""
    allowed = field_names("pods")
    if not isinstance(value, dict) or set(value) - set(allowed):
        unknown = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        what = f"unknown key(s) {', '.join(unknown)}" if unknown else "must be an object"
        problem("", value, f"{what}; allowed: {', '.join(allowed)}")
        return PodSettings()
    labels = _string_map(value.get("labels", {}), "labels", problem, label_values=True)
    for taken in SELECTOR_LABELS:
        if taken in labels:
            problem(f"labels.{taken}", labels.pop(taken), "is a selector label the program sets; pick another key")
    affinity = value.get("affinity")
    if affinity is not None and not isinstance(affinity, dict):
        problem("affinity", affinity, "must be an object, as a Pod spec's affinity (it replaces the default spreading)")
        affinity = None
    priority = value.get("priorityClassName")
    if priority is not None and (not isinstance(priority, str) or not dns_subdomain_ok(priority)):
        problem("priorityClassName", priority, "must be a PriorityClass name (a DNS-1123 subdomain)")
        priority = None
    secrets = value.get("imagePullSecrets", [])
    if not isinstance(secrets, list) or not all(isinstance(s, str) and dns_subdomain_ok(s) for s in secrets):
        problem("imagePullSecrets", secrets, "must be a list of Secret names in the registry's namespace")
        secrets = []
    return PodSettings(
        resources=_resources(value.get("resources", DEFAULT_RESOURCES), problem),
        node_selector=_string_map(value.get("nodeSelector", {}), "nodeSelector", problem, label_values=True),
        tolerations=_tolerations(value.get("tolerations", []), problem),
        affinity=affinity,
        topology_spread_constraints=_objects(value.get("topologySpreadConstraints", []), "topologySpreadConstraints", problem),
        priority_class_name=priority,
        annotations=_string_map(value.get("annotations", {}), "annotations", problem),
        labels=labels,
        service_account=_service_account(value.get("serviceAccount", {}), problem),
        image_pull_secrets=tuple(secrets),
        env=_env(value.get("env", {}), managed_env, problem),
    )
