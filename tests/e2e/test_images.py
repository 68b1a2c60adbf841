"""End to end on the sandbox: declared images (`images`), copied by `up` with their digests, and bundles.

A source registry (a stack of this program, standing in for a registry the machine running `up`
reaches) holds a runnable image pushed by `docker push` and a two-platform index. A second stack
declares both: the preview lists them, `up` copies them (digests equal to the source's, as skopeo
reads them; every platform of the index), a Pod pulls the seeded image by its declared name, and a
second `up` transfers nothing (no upload in the registry's log). A tag that moves at the source
shows as a change to `digest` in the preview. Then the air-gapped side: `scripts/images.sh save`
writes the stack's images into a file, the source registry is stopped, and a third stack seeds
itself from the file; a Pod pulls from it. The copy is timed against `docker push` of the same image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.oci import OCI_INDEX, OCI_MANIFEST, Registry, RegistrySource, copy_image, parse_reference
from tests.e2e.faults import RegistryClient
from tests.e2e.helpers import (
    CERTS_D,
    REGISTRY_HOST,
    REGISTRY_IMAGE,
    REPO,
    SANDBOX_CLUSTER,
    TEST_IMAGE,
    Stack,
    free_port,
    record,
    run,
    throwaway_registry_stack,
)
from tests.e2e.test_cluster_pull import Cluster, kubectl
from tests.e2e.test_pull_endpoint import registry_log

NAMESPACE = "e2e-images"


def on_bridge(port: int, **settings: Any) -> dict[str, Any]:
    """A registry the node and this machine reach on the sandbox bridge, with one push user `ci`."""
    return {
        "users": [{"name": "ci"}],
        "port": port,
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "endpoint": f"{REGISTRY_HOST}:{port}",
        **settings,
    }


@dataclass
class Source:
    stack: Stack
    outputs: dict[str, Any]
    client: RegistryClient
    busybox: str  # digests of what the source holds
    multi: str


def docker_push(outputs: dict[str, Any], workdir: Path, name: str, image: str = TEST_IMAGE) -> float:
    """`docker push` of the test image as `name` (dockerd trusts the CA through certs.d); its seconds."""
    endpoint = outputs["endpoint"]
    ca_dir, config = CERTS_D / endpoint, workdir / f"docker-config-{endpoint.replace(':', '-')}"
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.crt").write_text(outputs["caCertificate"])
    config.mkdir(exist_ok=True)
    docker = ["docker", "--config", str(config)]
    run([*docker, "login", endpoint, "-u", "ci", "--password-stdin"], input=outputs["passwords"]["ci"])
    run([*docker, "tag", image, f"{endpoint}/{name}"])
    started = time.perf_counter()
    run([*docker, "push", f"{endpoint}/{name}"])
    return time.perf_counter() - started


def push_index(client: RegistryClient, repo: str, tag: str) -> str:
    """A two-platform OCI index of two small images; its digest."""
    platforms = []
    for arch in ("amd64", "arm64"):
        digest = client.push_image(repo, f"{tag}-{arch}")[0]
        _, headers, _ = client.request("HEAD", f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
        size = int(headers["Content-Length"])
        platforms.append(
            {"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": {"os": "linux", "architecture": arch}}
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": platforms}).encode()
    status, headers, _ = client.request("PUT", f"/v2/{repo}/manifests/{tag}", index, {"Content-Type": OCI_INDEX})
    assert status == 201, status
    return "sha256:" + hashlib.sha256(index).hexdigest()


@pytest.fixture(scope="module")
def source(workdir: Path) -> Iterator[Source]:
    with throwaway_registry_stack(workdir / "source", "e2e-img-src", on_bridge(free_port())) as s:
        s.up()
        out: dict[str, Any] = s.outputs()
        client = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        docker_push(out, workdir, "e2e/busybox:1")
        busybox = client.request(
            "HEAD",
            "/v2/e2e/busybox/manifests/1",
            headers={"Accept": ", ".join((OCI_INDEX, OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"))},
        )[1]["Docker-Content-Digest"]
        yield Source(s, out, client, busybox, push_index(client, "e2e/multi", "1"))
        shutil.rmtree(CERTS_D / out["endpoint"], ignore_errors=True)


@pytest.fixture(scope="module")
def seeded(workdir: Path, source: Source) -> Iterator[Stack]:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("create", "namespace", NAMESPACE)
    src = source.outputs["endpoint"]
    settings = on_bridge(
        free_port(),
        images=[
            {"source": f"{src}/e2e/busybox:1", "name": "team/busybox:1"},
            {"source": f"{src}/e2e/multi:1", "name": "team/multi:1"},
            {"dockerImage": TEST_IMAGE, "name": "local/busybox:1"},  # an image of the Docker host
        ],
        sourceRegistries={src: {"username": "ci", "ca": source.outputs["caCertificate"]}},
        pullSecret={"name": f"pull-{os.urandom(3).hex()}", "namespaces": [NAMESPACE], "allowPushUser": True},
        **SANDBOX_CLUSTER,
    )
    with throwaway_registry_stack(workdir / "seeded", "e2e-img", settings) as s:
        s.set_secret(f'sourceRegistries["{src}"].password', source.outputs["passwords"]["ci"])
        try:
            yield s
        finally:
            kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)


def image_steps(stack: Stack) -> dict[str, dict[str, Any]]:
    """The preview's steps on declared images, by the name they are held under."""
    return {s["urn"].split("registry-images-", 1)[1]: s for s in stack.preview_steps() if "::registry-images-" in s["urn"]}


def skopeo_digest(outputs: dict[str, Any], workdir: Path, name: str) -> str:
    """The digest of `name` in the stack's registry as skopeo reads it (the raw manifest's sha256)."""
    certs = workdir / f"skopeo-certs-{outputs['endpoint'].replace(':', '-')}"
    certs.mkdir(exist_ok=True)
    (certs / "ca.crt").write_text(outputs["caCertificate"])
    creds = f"ci:{outputs['passwords']['ci']}"
    raw = run(
        ["skopeo", "inspect", "--raw", "--cert-dir", str(certs), "--creds", creds, f"docker://{outputs['endpoint']}/{name}"]
    ).stdout
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def uploads(container: str, since: str) -> list[str]:
    return [line for line in registry_log(container, since) if "blobs/uploads" in line]


def pod_pulls(stack: Stack, outputs: dict[str, Any], name: str) -> float:
    node = Cluster(stack, int(outputs["endpoint"].rsplit(":", 1)[1]))
    node.outputs, node.image = outputs, f"{outputs['endpoint']}/{name}"
    node.install_trust_by_hand()
    pod = node.run_pod(NAMESPACE, f"seeded-{os.urandom(2).hex()}", secret=outputs["pullSecretName"])
    try:
        phase, seconds = node.wait_pod(NAMESPACE, pod)
        assert phase == "Succeeded", node.events(NAMESPACE, pod)
        return seconds
    finally:
        kubectl("delete", "pod", pod, "-n", NAMESPACE, "--wait=false", check=False)
        node.remove_trust()


def test_declared_images_are_previewed_copied_with_their_digests_and_pulled_by_a_pod(
    workdir: Path, source: Source, seeded: Stack
) -> None:
    steps = image_steps(seeded)
    declared = ("team/busybox:1", "team/multi:1", "local/busybox:1")
    assert {name: step["op"] for name, step in steps.items()} == dict.fromkeys(declared, "create")
    seconds = seeded.up()
    out: dict[str, Any] = seeded.outputs()
    local = out["images"].pop("local/busybox:1")
    assert out["images"] == {"team/busybox:1": source.busybox, "team/multi:1": source.multi}
    assert skopeo_digest(out, workdir, "local/busybox:1") == local
    assert skopeo_digest(out, workdir, "team/busybox:1") == source.busybox
    assert skopeo_digest(out, workdir, "team/multi:1") == source.multi
    dest = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
    index = json.loads(dest.request("GET", "/v2/team/multi/manifests/1", headers={"Accept": OCI_INDEX})[2])
    for platform in index["manifests"]:  # every platform's manifest is there, by its digest
        assert dest.request("HEAD", f"/v2/team/multi/manifests/{platform['digest']}", headers={"Accept": OCI_MANIFEST})[0] == 200
    pulled = pod_pulls(seeded, out, "team/busybox:1")
    record(
        f"declared images: pulumi up of a new stack with 3 images (a 2-platform index, one from the Docker host) "
        f"in {seconds:.1f} s; "
        f"a Pod pulled team/busybox:1 in {pulled:.1f} s"
    )
    secret = source.outputs["passwords"]["ci"]
    assert secret not in seeded.state_text() and secret not in "\n".join(seeded.transcript)


def test_a_second_run_transfers_nothing(seeded: Stack) -> None:
    seeded.pulumi("preview", "--expect-no-changes")
    out: dict[str, Any] = seeded.outputs()
    since = str(int(time.time()) - 1)
    seconds = seeded.up()
    assert uploads(out["containerName"], since) == []
    record(f"declared images: a no-op pulumi up in {seconds:.1f} s, 0 uploads in the registry's log")


def test_a_tag_that_moves_at_the_source_is_a_change_in_the_preview(source: Source, seeded: Stack) -> None:
    moved = source.client.push_image("e2e/multi", "1")[0]  # the tag now names a single-platform image
    steps = image_steps(seeded)
    assert list(steps) == ["team/multi:1"] and steps["team/multi:1"]["op"] == "update", steps
    old_digest = steps["team/multi:1"]["oldState"]["inputs"]["sourceDigest"]
    assert (old_digest, steps["team/multi:1"]["newState"]["inputs"]["sourceDigest"]) == (source.multi, moved)
    shown = seeded.pulumi("preview", "--diff").stdout  # as a reviewer reads it
    assert f'sourceDigest: "{source.multi}" => "{moved}"' in shown, shown[-3000:]
    seeded.up()
    assert seeded.outputs()["images"]["team/multi:1"] == moved
    source.multi = moved
    seeded.pulumi("preview", "--expect-no-changes")


def test_the_copy_against_docker_push_of_the_same_image(workdir: Path, source: Source, seeded: Stack) -> None:
    out: dict[str, Any] = seeded.outputs()
    src = Registry(source.outputs["endpoint"], "ci", source.outputs["passwords"]["ci"], source.outputs["caCertificate"])
    dest = Registry(out["endpoint"], "ci", out["passwords"]["ci"], out["caCertificate"])
    figures = []
    for image in (TEST_IMAGE, REGISTRY_IMAGE):  # the small test image, and the registry's own (larger)
        repository = "bench/" + image.rsplit("/", 1)[-1].split(":")[0]
        to_source = docker_push(source.outputs, workdir, f"{repository}:1", image)
        top = src.resolve(repository, "1")
        started = time.perf_counter()
        stats = copy_image(
            RegistrySource(src, repository), top, dest, f"{repository}-copied", "1"
        )  # a new repository: every blob sent
        copied = time.perf_counter() - started
        pushed = docker_push(out, workdir, f"{repository}-pushed:1", image)
        assert stats.blobs_sent >= 2 and dest.has_manifest(f"{repository}-copied", "1") == top.digest
        figures.append(
            f"{image} ({stats.bytes_sent / 1e6:.1f} MB, {stats.blobs_sent} blobs): copy registry to registry {copied:.2f} s, "
            f"docker push of the same image {pushed:.2f} s (to the source {to_source:.2f} s), ratio {copied / pushed:.2f}"
        )
    record("declared images vs docker push: " + "; ".join(figures))
    shutil.rmtree(CERTS_D / out["endpoint"], ignore_errors=True)


def test_an_air_gapped_stack_seeds_itself_from_a_bundle(workdir: Path, source: Source, seeded: Stack) -> None:
    bundle = workdir / "images.tar"
    env = {**seeded.env, "PROJECT_DIR": str(seeded.project_dir)}
    saved = run(["bash", str(REPO / "scripts" / "images.sh"), "save", seeded.name, str(bundle)], env=env)
    assert source.outputs["passwords"]["ci"] not in saved.stdout + saved.stderr
    record(saved.stderr.strip().splitlines()[-1])
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600  # owner-only: it may hold private images
    # Standard output: one digest-pinned source per image saved, the air-gapped side's sources below.
    src = source.outputs["endpoint"]
    pins = saved.stdout.split()
    assert pins[:2] == [f"{src}/e2e/busybox:1@{source.busybox}", f"{src}/e2e/multi:1@{source.multi}"], saved.stdout
    assert len(pins) == 3 and pins[2].startswith(f"{parse_reference(TEST_IMAGE)}@sha256:"), saved.stdout
    run(["docker", "stop", source.outputs["containerName"]])  # the sources are out of reach from here on
    air = on_bridge(
        free_port(),
        images=[
            {"source": pins[0], "name": "team/busybox:1", "bundle": str(bundle)},
            {"source": pins[1], "name": "team/multi:1", "bundle": str(bundle)},
        ],
        pullSecret={"name": f"pull-air-{os.urandom(3).hex()}", "namespaces": [NAMESPACE], "allowPushUser": True},
        **SANDBOX_CLUSTER,
    )
    try:
        with throwaway_registry_stack(workdir / "air", "e2e-img-air", air) as s:
            seconds = s.up()
            out: dict[str, Any] = s.outputs()
            assert out["images"] == {"team/busybox:1": source.busybox, "team/multi:1": source.multi}
            assert skopeo_digest(out, workdir, "team/busybox:1") == source.busybox
            pulled = pod_pulls(s, out, "team/busybox:1")
            s.pulumi("preview", "--expect-no-changes")
            record(
                f"bundle: pulumi up of an air-gapped stack from the file in {seconds:.1f} s (source registry stopped); "
                f"a Pod pulled in {pulled:.1f} s"
            )
            # An entry the file does not hold is refused before anything changes, naming the entry.
            s.configure({"images": [*air["images"], {"source": f"{src}/e2e/other:1", "bundle": str(bundle)}]})
            failed = s.pulumi("preview", check=False)
            assert failed.returncode != 0
            assert (
                f"private-registry:images[2].source = '{src}/e2e/other:1': bundle {bundle} holds no {src}/e2e/other:1"
                in failed.stdout + failed.stderr
            )
            # A file cut short on its way over is refused by the settings, naming the setting and the file.
            cut = workdir / "images-cut.tar"
            cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
            s.configure({"images": [{**air["images"][0], "bundle": str(cut)}]})
            failed = s.pulumi("preview", check=False)
            assert failed.returncode != 0
            assert f"private-registry:images[0].bundle = '{cut}': bundle {cut}: " in failed.stdout + failed.stderr, (
                failed.stdout + failed.stderr
            )
    finally:
        run(["docker", "start", source.outputs["containerName"]])
