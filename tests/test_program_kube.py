"""Program tests of target `kubernetes`: the whole `__main__.py` under mocks, asserting the graph."""

from __future__ import annotations

import base64
import json
from typing import Any

import bcrypt
import pulumi
import pytest

from components.registry_kube import PRESTOP_SECONDS, content_hash
from tests.program_harness import DYNAMIC, ProgramRun, Registration, evaluate

S3 = {
    "target": "kubernetes",
    "hostnames": ["registry.internal"],
    "ipAddresses": ["172.31.250.1"],
    "endpoint": "172.31.250.1:30500",
    "storage": {
        "driver": "s3",
        "bucket": "images",
        "endpoint": "http://172.31.250.1:19000",
        "insecure": True,
        "accessKey": "AKIAEXAMPLEKEY",
        "secretKey": "s3-secret-value-never-shown",
    },
    "pullSecret": {"namespaces": ["apps"]},
    "kubernetes": {"context": "prod"},
}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture(scope="module")
def s3() -> ProgramRun:
    return evaluate(S3, secret_keys=["private-registry:storage"])


def named(run: ProgramRun, type_: str, object_name: str) -> Registration:
    return next(r for r in run.of_type(type_) if r.inputs["metadata"]["name"] == object_name)


def container_of(run: ProgramRun) -> dict[str, Any]:
    containers = run.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(run: ProgramRun) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container_of(run)["env"]}


def decoded(secret: Registration, key: str) -> str:
    return base64.b64decode(secret.inputs["data"][key]).decode()


def test_graph_of_the_kubernetes_target(s3: ProgramRun) -> None:
    assert s3.type_counts() == {
        "private-registry:index:PrivateRegistry": 1,
        "private-registry:index:RegistryTls": 1,
        "private-registry:index:Htpasswd": 1,
        "private-registry:index:RegistryDeployment": 1,
        "private-registry:index:PullSecrets": 1,
        "private-registry:index:NodeTrust": 1,
        "tls:index/privateKey:PrivateKey": 2,
        "tls:index/selfSignedCert:SelfSignedCert": 1,
        "tls:index/certRequest:CertRequest": 1,
        "tls:index/locallySignedCert:LocallySignedCert": 1,
        DYNAMIC: 5,  # stack target, htpasswd file, HTTP secret, admin's generated password, roll triggers' key
        "pulumi-python:dynamic/private-registry:PullCredential": 1,
        "pulumi-python:dynamic/private-registry:PullGate": 1,  # the pull secrets wait for every replica
        "pulumi:providers:kubernetes": 1,
        "kubernetes:core/v1:Namespace": 1,
        SECRET: 4,  # tls, htpasswd, env (HTTP secret, S3 keys), the pull secret in apps
        DEPLOYMENT: 1,
        "kubernetes:core/v1:Service": 1,
        "kubernetes:policy/v1:PodDisruptionBudget": 1,
    }
    assert not s3.of_type("docker:index/container:Container")


def test_replicas_probes_and_a_rollout_that_keeps_every_ready_replica(s3: ProgramRun) -> None:
    deployment = s3.one(DEPLOYMENT)
    spec = deployment.inputs["spec"]
    assert deployment.inputs["metadata"] == {
        "name": "registry",
        "namespace": "registry-dev",
        "labels": spec["selector"]["matchLabels"],
    }
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    container = container_of(s3)
    assert container["readinessProbe"]["exec"]["command"] == [
        "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/debug/health"
    ]  # fmt: skip
    assert container["livenessProbe"]["tcpSocket"] == {"port": 5000}
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": PRESTOP_SECONDS}}
    assert container["resources"]["requests"] == {"cpu": "50m", "memory": "64Mi"}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0 and security["readOnlyRootFilesystem"]
    assert security["capabilities"] == {"drop": ["ALL"]} and security["allowPrivilegeEscalation"] is False
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] > PRESTOP_SECONDS + 5  # preStop, then the registry's drain
    budget = s3.one("kubernetes:policy/v1:PodDisruptionBudget")
    assert budget.inputs["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": spec["selector"]["matchLabels"]}}
    assert deployment.custom_timeouts == {"create": "120s", "update": "120s"}  # 60 s per replica


def test_s3_storage_with_the_keys_from_a_secret_and_no_redirects(s3: ProgramRun) -> None:
    env = env_of(s3)
    assert env["REGISTRY_STORAGE"] == "s3" and env["REGISTRY_STORAGE_S3_BUCKET"] == "images"
    assert env["REGISTRY_STORAGE_S3_REGIONENDPOINT"] == "http://172.31.250.1:19000"
    assert env["REGISTRY_STORAGE_S3_SECURE"] == "false" and env["REGISTRY_STORAGE_S3_FORCEPATHSTYLE"] == "true"
    assert env["REGISTRY_STORAGE_S3_ROOTDIRECTORY"] == "/registry-dev"
    assert env["REGISTRY_STORAGE_REDIRECT_DISABLE"] == "true"
    assert "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY" not in env
    for name, key in [
        ("REGISTRY_HTTP_SECRET", "http-secret"),
        ("REGISTRY_STORAGE_S3_ACCESSKEY", "s3-access-key"),
        ("REGISTRY_STORAGE_S3_SECRETKEY", "s3-secret-key"),
    ]:
        assert env[name] == {"secretKeyRef": {"name": "registry-env", "key": key}}
    env_secret = named(s3, SECRET, "registry-env")
    assert "data" in env_secret.secret_inputs
    assert decoded(env_secret, "s3-secret-key") == "s3-secret-value-never-shown"
    assert len(decoded(env_secret, "http-secret")) >= 40
    # Neither the keys nor the HTTP secret appear in the Deployment, only a hash of them.
    assert "s3-secret-value-never-shown" not in json.dumps(s3.one(DEPLOYMENT).inputs)
    assert "spec" not in s3.one(DEPLOYMENT).secret_inputs
    assert s3.outputs["registryStorage"] == "s3://images/registry-dev"


def test_tls_and_htpasswd_secrets_are_mounted_as_folders(s3: ProgramRun) -> None:
    tls = named(s3, SECRET, "registry-tls")
    assert tls.inputs["type"] == "kubernetes.io/tls" and "data" in tls.secret_inputs
    assert "MOCK registry-tls-server-cert" in decoded(tls, "tls.crt")
    assert "MOCK registry-tls-server-key" in decoded(tls, "tls.key")
    htpasswd = decoded(named(s3, SECRET, "registry-auth"), "htpasswd")
    password = s3.outputs["passwords"]["admin"]
    assert bcrypt.checkpw(password.encode(), htpasswd.split(":", 1)[1].strip().encode())
    container = container_of(s3)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    # Folders, never subPath: the kubelet updates a mounted Secret folder, so the registry sees a new htpasswd.
    assert mounts["tls"]["mountPath"] == "/etc/distribution/certs" and "subPath" not in mounts["tls"]
    assert mounts["auth"]["mountPath"] == "/etc/distribution/auth" and "subPath" not in mounts["auth"]
    env = env_of(s3)
    assert env["REGISTRY_HTTP_TLS_CERTIFICATE"] == "/etc/distribution/certs/tls.crt"
    assert env["REGISTRY_AUTH_HTPASSWD_PATH"] == "/etc/distribution/auth/htpasswd"
    # The certificate's hash rolls the Pods (TLS is read at start); the htpasswd is not in the template.
    template = s3.one(DEPLOYMENT).inputs["spec"]["template"]
    cert = decoded(tls, "tls.crt")
    assert template["metadata"]["annotations"]["private-registry/tls-sha256"] == content_hash(cert)
    assert "htpasswd" not in json.dumps(template["metadata"])


def test_node_port_service_and_the_same_outputs_contract(s3: ProgramRun) -> None:
    service = s3.one("kubernetes:core/v1:Service")
    assert service.inputs["spec"]["type"] == "NodePort"
    assert service.inputs["spec"]["ports"] == [
        {"name": "https", "port": 5000, "nodePort": 30500, "targetPort": "https", "protocol": "TCP"}
    ]
    assert s3.outputs["endpoint"] == "172.31.250.1:30500" and s3.outputs["target"] == "kubernetes"
    assert s3.outputs["registryNamespace"] == "registry-dev"
    assert s3.secret_outputs == {"passwords", "dockerConfigJson"}
    assert "containerName" not in s3.outputs
    config = json.loads(s3.outputs["dockerConfigJson"])
    assert list(config["auths"]) == ["172.31.250.1:30500"]
    assert 'server = "https://172.31.250.1:30500"' in s3.outputs["containerdHostsToml"]


def test_every_kubernetes_object_waits_for_the_namespace(s3: ProgramRun) -> None:
    namespace = s3.one("kubernetes:core/v1:Namespace")
    kube = [r for r in s3.registrations if r.type.startswith("kubernetes:")]
    inside = [r for r in kube if r.inputs["metadata"].get("namespace") == "registry-dev"]
    assert len(inside) == 6  # three Secrets, Deployment, Service, PodDisruptionBudget
    assert all(namespace.urn in r.dependencies for r in inside)
    assert namespace.retain_on_delete is False  # nothing of the data lives in it with S3


def test_filesystem_storage_with_one_replica_is_a_kept_claim_and_a_recreate_rollout() -> None:
    run = evaluate({**S3, "replicas": 1, "storage": {"driver": "filesystem", "size": "20Gi", "storageClass": "local"}})
    claim = run.one("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.inputs["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "local",
    }
    assert claim.retain_on_delete is True and run.one("kubernetes:core/v1:Namespace").retain_on_delete is True
    spec = run.one(DEPLOYMENT).inputs["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "registry-data"}} in spec["template"]["spec"]["volumes"]
    assert env_of(run)["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] == "/var/lib/registry"
    assert not run.of_type("kubernetes:policy/v1:PodDisruptionBudget")  # one replica: nothing to keep up
    assert run.outputs["registryStorage"] == "persistentvolumeclaim/registry-data"


def test_render_mode_renders_the_whole_kubernetes_target(tmp_path: Any) -> None:
    run = evaluate({**S3, "kubernetes": {"mode": "render", "renderDirectory": str(tmp_path / "out")}})
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path / "out")
    kube = [r for r in run.registrations if r.type.startswith("kubernetes:")]
    assert {r.type for r in kube} >= {DEPLOYMENT, "kubernetes:core/v1:Service", "kubernetes:core/v1:Namespace"}
    assert all(r.provider.startswith(provider.urn) for r in kube)


LOAD_BALANCER = {**S3, "serviceType": "LoadBalancer", "port": 443, "endpoint": "172.31.250.1:443"}
SERVICE = "kubernetes:core/v1:Service"


def test_pull_image_false_never_pulls_and_load_balancer_uses_its_port() -> None:
    run = evaluate({**LOAD_BALANCER, "pullImage": False, "service": {"public": True}})
    assert container_of(run)["imagePullPolicy"] == "Never"
    ports = run.one(SERVICE).inputs["spec"]["ports"]
    assert ports == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]


def test_a_context_alone_comes_up_with_one_pod_on_a_read_write_once_claim() -> None:
    run = evaluate({"target": "kubernetes", "kubernetes": {"context": "prod"}})
    claim = run.one("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.inputs["spec"]["accessModes"] == ["ReadWriteOnce"]
    spec = run.one(DEPLOYMENT).inputs["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    service = run.one(SERVICE).inputs
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 30500
    assert "annotations" not in service["metadata"] and "externalTrafficPolicy" not in service["spec"]


def test_an_internal_load_balancer_gets_the_settings_of_service() -> None:
    service = {
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal", "team": "platform"},
        "loadBalancerClass": "service.k8s.aws/nlb",
        "externalTrafficPolicy": "Local",
    }
    run = evaluate({**LOAD_BALANCER, "service": service})
    inputs = run.one(SERVICE).inputs
    assert inputs["metadata"]["annotations"] == service["annotations"]
    assert inputs["spec"]["type"] == "LoadBalancer" and inputs["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert inputs["spec"]["externalTrafficPolicy"] == "Local" and "loadBalancerSourceRanges" not in inputs["spec"]
    ranged = evaluate({**LOAD_BALANCER, "service": {"loadBalancerSourceRanges": ["10.20.0.0/16", "192.168.7.0/24"]}})
    assert ranged.one(SERVICE).inputs["spec"]["loadBalancerSourceRanges"] == ["10.20.0.0/16", "192.168.7.0/24"]


def test_a_load_balancer_open_to_all_is_refused_before_anything_is_created() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        evaluate(LOAD_BALANCER)
    message = str(caught.value)
    assert "private-registry:serviceType = 'LoadBalancer': without service.loadBalancerSourceRanges" in message
    assert "internet-facing load balancer" in message and "service.public = true" in message


def test_every_service_clients_reach_gets_the_annotations_and_traffic_policy() -> None:
    service = {"annotations": {"example.com/owner": "platform"}, "externalTrafficPolicy": "Local"}
    settings = {
        **PULLERS,
        "service": service,
        "mirrors": {"quay.io": {"port": 30600}},
        "metrics": {"enabled": True, "serviceMonitor": True},
    }
    run = evaluate(settings)
    reached = {r.inputs["metadata"]["name"]: r.inputs for r in run.of_type(SERVICE)}
    assert set(reached) == {"registry", "registry-pull", "registry-mirror-quay-io", "registry-metrics"}
    for name in ("registry", "registry-pull", "registry-mirror-quay-io"):
        assert reached[name]["metadata"]["annotations"] == {"example.com/owner": "platform"}, name
        assert reached[name]["spec"]["externalTrafficPolicy"] == "Local" and reached[name]["spec"]["type"] == "NodePort"
    assert "annotations" not in reached["registry-metrics"]["metadata"]  # ClusterIP, inside the cluster only


PULLERS = {
    **S3,
    "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}],
    "replicas": 1,
    "pullReplicas": 3,
    "pullPort": 30501,
}


@pytest.fixture(scope="module")
def pull() -> ProgramRun:
    return evaluate(PULLERS, secret_keys=["private-registry:storage"])


def env_by_name(run: ProgramRun, deployment: str) -> dict[str, Any]:
    (container,) = named(run, DEPLOYMENT, deployment).inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_a_pull_port_adds_a_read_only_deployment_with_its_own_pods_and_node_port(pull: ProgramRun) -> None:
    writer, reader = named(pull, DEPLOYMENT, "registry"), named(pull, DEPLOYMENT, "registry-pull")
    assert (writer.inputs["spec"]["replicas"], reader.inputs["spec"]["replicas"]) == (1, 3)
    # Each Service selects its own Pods only: the name label differs, neither selector matches the other's Pods.
    selectors = {s.inputs["metadata"]["name"]: s.inputs["spec"]["selector"] for s in pull.of_type("kubernetes:core/v1:Service")}
    assert selectors["registry"]["app.kubernetes.io/name"] == "registry"
    assert selectors["registry-pull"]["app.kubernetes.io/name"] == "registry-pull"
    assert reader.inputs["spec"]["template"]["metadata"]["labels"] == selectors["registry-pull"]
    assert writer.inputs["spec"]["template"]["metadata"]["labels"] == selectors["registry"]
    ports = named(pull, "kubernetes:core/v1:Service", "registry-pull").inputs["spec"]["ports"]
    assert ports == [{"name": "https", "port": 5000, "nodePort": 30501, "targetPort": "https", "protocol": "TCP"}]
    budgets = [b.inputs["metadata"]["name"] for b in pull.of_type("kubernetes:policy/v1:PodDisruptionBudget")]
    assert budgets == ["registry-pull"]  # the writer has one replica here: nothing to keep up
    # The read-only role's contract: no deletes, no upload purging, no descriptor cache; the same S3 prefix.
    env, writer_env = env_by_name(pull, "registry-pull"), env_by_name(pull, "registry")
    assert json.loads(env["REGISTRY_STORAGE_MAINTENANCE"])["readonly"] == {"enabled": True}
    assert env["REGISTRY_STORAGE_DELETE_ENABLED"] == "false" and env["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"] == ""
    assert "REGISTRY_STORAGE_MAINTENANCE" not in writer_env
    assert env["REGISTRY_STORAGE_S3_ROOTDIRECTORY"] == writer_env["REGISTRY_STORAGE_S3_ROOTDIRECTORY"] == "/registry-dev"


def test_the_writer_knows_the_push_users_only_and_the_reader_both(pull: ProgramRun) -> None:
    def names(secret: str) -> list[str]:
        return [line.split(":", 1)[0] for line in decoded(named(pull, SECRET, secret), "htpasswd").splitlines()]

    assert names("registry-auth") == ["ci"]
    assert sorted(names("registry-pull-auth")) == ["ci", "puller"]
    volumes = named(pull, DEPLOYMENT, "registry-pull").inputs["spec"]["template"]["spec"]["volumes"]
    assert {"name": "auth", "secret": {"secretName": "registry-pull-auth", "defaultMode": 0o440}} in volumes
    config = json.loads(pull.outputs["dockerConfigJson"])
    assert list(config["auths"]) == ["172.31.250.1:30500"] and config["auths"]["172.31.250.1:30500"]["username"] == "puller"
    assert 'server = "https://172.31.250.1:30501"' in pull.outputs["containerdHostsToml"]
    assert (pull.outputs["pullEndpoint"], pull.outputs["pullDeployment"]) == ("172.31.250.1:30501", "registry-pull")
    assert pull.outputs["endpoint"] == "172.31.250.1:30500" and "pullContainerName" not in pull.outputs


def test_a_read_only_deployment_mounts_a_shared_claim_read_only() -> None:
    storage = {"driver": "filesystem", "accessMode": "ReadWriteMany", "size": "5Gi"}
    run = evaluate({**PULLERS, "storage": storage})
    mounts = {
        d: {m["name"]: m for m in named(run, DEPLOYMENT, d).inputs["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
        for d in ("registry", "registry-pull")
    }
    assert mounts["registry-pull"]["data"] == {"name": "data", "mountPath": "/var/lib/registry", "readOnly": True}
    assert mounts["registry"]["data"] == {"name": "data", "mountPath": "/var/lib/registry"}
    assert len(run.of_type("kubernetes:core/v1:PersistentVolumeClaim")) == 1  # one claim, both Deployments


PLACED = {
    **PULLERS,
    "pods": {
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
        "nodeSelector": {"registry": "yes"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "registry", "effect": "NoSchedule"}],
        "priorityClassName": "platform-critical",
        "annotations": {"prometheus.io/scrape": "true"},
        "labels": {"team": "platform"},
        "serviceAccount": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/registry"}},
        "imagePullSecrets": ["hub-credentials"],
        "env": {"REGISTRY_LOG_LEVEL": "debug", "PROXY_TOKEN": "tok-3b9f"},
    },
}


def test_without_pods_the_pod_spec_is_what_it_was() -> None:
    run = evaluate(S3)
    spec = run.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]
    assert set(spec) == {
        "containers", "volumes", "automountServiceAccountToken", "enableServiceLinks",
        "terminationGracePeriodSeconds", "securityContext", "affinity",
    }  # fmt: skip
    resources = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    assert spec["containers"][0]["resources"] == resources
    assert not run.of_type("kubernetes:core/v1:ServiceAccount")


def test_pods_places_both_deployments_and_runs_them_as_their_service_account() -> None:
    run = evaluate(PLACED)
    (account,) = run.of_type("kubernetes:core/v1:ServiceAccount")
    assert account.inputs["metadata"]["name"] == "registry"
    assert account.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/registry"}
    for name in ("registry", "registry-pull"):
        deployment = named(run, DEPLOYMENT, name)
        template = deployment.inputs["spec"]["template"]
        spec = template["spec"]
        assert spec["nodeSelector"] == {"registry": "yes"} and spec["priorityClassName"] == "platform-critical"
        assert spec["tolerations"] == PLACED["pods"]["tolerations"]
        assert spec["serviceAccountName"] == "registry" and spec["imagePullSecrets"] == [{"name": "hub-credentials"}]
        assert spec["containers"][0]["resources"]["limits"] == {"memory": "1Gi"}
        assert template["metadata"]["labels"] == {"team": "platform", **deployment.inputs["spec"]["selector"]["matchLabels"]}
        assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        assert "private-registry/tls-sha256" in template["metadata"]["annotations"]
        assert account.urn in deployment.dependencies  # the account exists before the Pods that run as it
        env = env_by_name(run, name)
        assert env["REGISTRY_LOG_LEVEL"] == {"secretKeyRef": {"name": "registry-env", "key": "env.REGISTRY_LOG_LEVEL"}}
    assert decoded(named(run, SECRET, "registry-env"), "env.REGISTRY_LOG_LEVEL") == "debug"
    assert decoded(named(run, SECRET, "registry-env"), "env.PROXY_TOKEN") == "tok-3b9f"
    assert "tok-3b9f" not in json.dumps(named(run, DEPLOYMENT, "registry").inputs)  # values only in the Secret


def test_an_affinity_of_ones_own_replaces_the_default_spreading() -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    run = evaluate({**S3, "pods": {"affinity": affinity}})
    assert run.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["affinity"] == affinity


def test_the_registry_image_from_a_registry_that_asks_for_credentials_gets_a_pull_secret_of_its_own() -> None:
    settings = {
        **S3,
        "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}],
        "pullPort": 30501,
        "pullSecret": {"namespaces": ["apps"], "user": "puller"},
        "image": "10.0.0.9:5000/library/registry:3.1.2",
        "sourceRegistries": {"10.0.0.9:5000": {"username": "node", "password": "bootstrap-secret"}},
    }
    run = evaluate(settings, secret_keys=["private-registry:storage", "private-registry:sourceRegistries"])
    secret = named(run, SECRET, "registry-image-pull")
    assert secret.inputs["type"] == "kubernetes.io/dockerconfigjson" and "data" in secret.secret_inputs
    auths = json.loads(decoded(secret, ".dockerconfigjson"))["auths"]
    assert list(auths) == ["10.0.0.9:5000"] and auths["10.0.0.9:5000"]["password"] == "bootstrap-secret"
    for deployment in run.of_type(DEPLOYMENT):  # the writer and the read-only Deployment
        spec = deployment.inputs["spec"]["template"]["spec"]
        assert spec["imagePullSecrets"] == [{"name": "registry-image-pull"}]
        assert secret.urn in deployment.dependencies
    # Without credentials for the image's registry, nothing changes.
    plain = evaluate(S3, secret_keys=["private-registry:storage"])
    assert not [s for s in plain.of_type(SECRET) if s.inputs["metadata"]["name"] == "registry-image-pull"]
    assert "imagePullSecrets" not in plain.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]


def test_a_mirror_is_a_deployment_on_a_claim_of_its_own_with_its_upstream_credentials_in_a_secret() -> None:
    ca = "-----BEGIN CERTIFICATE-----\nUPSTREAM\n-----END CERTIFICATE-----\n"
    mirrors = {"harbor.corp:8443": {"port": 30600, "username": "robot", "password": "upstream-secret", "ca": ca, "size": "5Gi"}}
    run = evaluate({**S3, "mirrors": mirrors}, secret_keys=["private-registry:storage", "private-registry:mirrors"])
    name = "registry-mirror-harbor-corp-8443"
    deployment = named(run, DEPLOYMENT, name)
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert deployment.inputs["spec"]["replicas"] == 1 and deployment.inputs["spec"]["strategy"] == {"type": "Recreate"}
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["REGISTRY_PROXY_REMOTEURL"]["value"] == "https://harbor.corp:8443"
    assert env["REGISTRY_PROXY_PASSWORD"] == {
        "name": "REGISTRY_PROXY_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": f"{name}-upstream", "key": "password"}},
    }
    assert "upstream-secret" not in json.dumps(deployment.inputs)
    assert "REGISTRY_STORAGE_S3_BUCKET" not in env and env["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"]["value"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}}
    assert volumes["upstream"]["secret"]["secretName"] == f"{name}-upstream"
    upstream = named(run, SECRET, f"{name}-upstream")
    assert decoded(upstream, "password") == "upstream-secret" and decoded(upstream, "ca.crt") == ca
    claim = named(run, "kubernetes:core/v1:PersistentVolumeClaim", f"{name}-data")
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == "5Gi"
    service = named(run, "kubernetes:core/v1:Service", name)
    assert service.inputs["spec"]["ports"][0]["nodePort"] == 30600
    assert run.outputs["mirrors"] == {"harbor.corp:8443": "172.31.250.1:30600"}


def test_metrics_are_on_a_pod_port_with_scrape_annotations_and_a_service_monitor_when_asked() -> None:
    settings = {**S3, "pullPort": 30501, "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}]}
    settings["pullSecret"] = {"namespaces": ["apps"], "user": "puller"}
    run = evaluate({**settings, "metrics": {"enabled": True, "serviceMonitor": True}}, secret_keys=["private-registry:storage"])
    for deployment in run.of_type(DEPLOYMENT):  # the writer and the read-only Deployment
        template = deployment.inputs["spec"]["template"]
        container = template["spec"]["containers"][0]
        assert {"name": "metrics", "containerPort": 5001} in container["ports"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["REGISTRY_HTTP_DEBUG_ADDR"] == "0.0.0.0:5001" and env["REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED"] == "true"
        annotations = template["metadata"]["annotations"]
        assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "5001")
    services = {s.inputs["metadata"]["name"]: s.inputs["spec"] for s in run.of_type("kubernetes:core/v1:Service")}
    assert services["registry-metrics"]["type"] == "ClusterIP"  # never a NodePort: scraped inside the cluster
    assert all(p.get("name") != "metrics" for name, spec in services.items() if name != "registry-metrics" for p in spec["ports"])
    monitor = run.one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert monitor.inputs["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    plain = evaluate(S3, secret_keys=["private-registry:storage"])  # off by default: the Pods as before
    assert "prometheus.io/scrape" not in plain.one(DEPLOYMENT).inputs["spec"]["template"]["metadata"]["annotations"]
    assert not plain.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")


GATE = "pulumi-python:dynamic/private-registry:PullGate"


def test_the_pull_secrets_take_their_credential_from_the_gate_after_the_users_secrets(s3: ProgramRun) -> None:
    gate = s3.one(GATE)
    assert gate.inputs["namespace"] == "registry-dev" and gate.inputs["context"] == "prod"
    assert gate.inputs["selectors"] == ["app.kubernetes.io/name=registry"]
    assert gate.inputs["username"] == "admin"
    after = {s3.by_urn(u).name for u in gate.dependencies}
    assert {"registry-users-pull-credential", "registry-deployment-auth"} <= after  # and so the users Secret
    secret = next(r for r in s3.of_type(SECRET) if r.name == "registry-pull-secrets-apps")
    assert "registry-pull-gate" in {s3.by_urn(u).name for u in secret.dependencies}
    credential = s3.one("pulumi-python:dynamic/private-registry:PullCredential")
    assert {s3.by_urn(u).name for u in credential.dependencies} == {"registry-users-admin-password"}
    file = next(r for r in s3.of_type("pulumi-python:dynamic:Resource") if r.name == "registry-users-file")
    assert file.inputs["pullPlan"]["pull"]["name"] == "admin"


def test_with_a_pull_port_the_gate_waits_for_the_read_only_replicas_and_the_mirrors(pull: ProgramRun) -> None:
    assert pull.one(GATE).inputs["selectors"] == ["app.kubernetes.io/name=registry-pull"]
    run = evaluate({**S3, "mirrors": {"docker.io": {"port": 30502, "remoteUrl": "https://registry-1.docker.io"}}})
    assert run.one(GATE).inputs["selectors"] == [
        "app.kubernetes.io/name=registry",
        "app.kubernetes.io/name=registry-mirror-docker-io",
    ]
