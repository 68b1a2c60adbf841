"""Unit tests: the PR-check comment of a `pulumi preview --json` (scripts/pr_summary.py).

The previews are built as the CLI writes them (`steps` with `op`, `urn`, `oldState`/`newState`
holding `type` and `inputs`, `diffReasons`, `replaceReasons`, `detailedDiff` of `{kind, inputDiff}`;
`diagnostics` of `{urn, prefix, message, severity}`) for the program's own resource names.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import cmarkgfm  # GitHub's Markdown library: the comment rendered as GitHub renders it
import pytest
from cmarkgfm.cmark import Options

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from pr_summary import (
    COMMENT_LIMIT,
    MARKER,
    MIRROR,
    READ_ONLY,
    WRITER,
    Change,
    changes,
    main,
    markdown,
    notices,
    role_of,
    serving,
)

STACK = "urn:pulumi:dev::private-registry::pulumi:pulumi:Stack"
TOP = f"{STACK}$private-registry:index:PrivateRegistry"
RC = f"{TOP}$private-registry:index:RegistryContainer"
RD = f"{TOP}$private-registry:index:RegistryDeployment"
CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
FILES = "pulumi-python:dynamic/private-registry:ConfigFiles"
SECRET = "kubernetes:core/v1:Secret"
# A secret as the engine carries it when it is not masked: the signature key and the plaintext.
PASSWORD = "hunter2-never-in-a-comment"
SECRET_VALUE = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(PASSWORD)}


def urn(parent: str, kind: str, name: str) -> str:
    return f"{parent}${kind}::{name}"


def state(u: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    kind = u.rsplit("::", 2)[-2].rsplit("$", 1)[-1]
    return {"urn": u, "custom": True, "type": kind, "inputs": inputs or {}, "outputs": {}}


def step(op: str, u: str, inputs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    both = state(u, inputs)
    if op in ("create", "create-replacement"):
        return {"op": op, "urn": u, "newState": both, **extra}
    if op in ("delete", "delete-replaced"):
        return {"op": op, "urn": u, "oldState": both, **extra}
    return {"op": op, "urn": u, "oldState": both, "newState": both, **extra}


def replaced(u: str, inputs: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    """A replacement as the engine plans it (delete-before-replace: the three steps)."""
    detail = {"detailedDiff": {k: {"kind": "update-replace", "inputDiff": True} for k in keys}, "diffReasons": keys}
    return [
        step("delete-replaced", u, inputs),
        step("replace", u, inputs, replaceReasons=keys, **detail),
        step("create-replacement", u, inputs, replaceReasons=keys, **detail),
    ]


def docker_stack(pull: bool = True, mirrors: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The unchanged steps of a running stack of target docker (writer, read-only, mirrors)."""
    steps = [step("same", STACK), step("same", TOP), step("same", f"{RC}::registry-registry")]
    steps.append(step("same", urn(RC, CONTAINER, "registry-registry-container"), {"name": "registry", "envs": SECRET_VALUE}))
    if pull:
        steps.append(step("same", urn(RC, CONTAINER, "registry-pull-container"), {"name": "registry-pull"}))
    for slug in mirrors:
        steps.append(step("same", urn(RC, CONTAINER, f"registry-mirror-{slug}-container"), {"name": f"registry-mirror-{slug}"}))
    return steps


def deployment_inputs(name: str, strategy: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "registry-dev"}, "spec": {"strategy": {"type": strategy}, "replicas": 1}}


def kube_stack() -> list[dict[str, Any]]:
    return [step("same", STACK), step("same", TOP), step("same", f"{RD}::registry-deployment")]


def preview(steps: list[dict[str, Any]], diagnostics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"steps": steps, "diagnostics": diagnostics or [], "duration": 4200000000, "changeSummary": {}}


def summary(tmp_path: Path, data: dict[str, Any], *extra: str, diff: str | None = None) -> tuple[int, str]:
    file = tmp_path / "preview.json"
    file.write_text(json.dumps(data))
    args = ["--stack", "dev", "--preview", str(file), "--deployed-users", "admin", "--planned-users", "admin", *extra]
    if diff is not None:
        (tmp_path / "diff.txt").write_text(diff)
        args += ["--diff", str(tmp_path / "diff.txt")]
    return run(args)


def run(args: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(args)
    return code, buffer.getvalue()


def test_an_unchanged_stack_says_no_changes_under_the_marker(tmp_path: Path) -> None:
    code, text = summary(tmp_path, preview(docker_stack()))
    assert code == 0
    assert text.startswith(f"{MARKER}\n### Registry stack `dev`: no changes\n")
    assert "|" not in text and "<details>" not in text


def password_change() -> dict[str, Any]:
    users = urn(f"{TOP}$private-registry:index:Htpasswd", "pulumi-python:dynamic:Resource", "registry-users-file")
    files = urn(RC, FILES, "registry-registry-config-files")
    pull = urn(f"{TOP}$private-registry:index:PullSecrets", SECRET, "registry-pull-secrets-apps")
    return preview(
        [
            *docker_stack(),
            step("update", users, {"users": SECRET_VALUE}, diffReasons=["users"],
                 detailedDiff={"users": {"kind": "update", "inputDiff": True}}),
            step("update", files, {"files": SECRET_VALUE}, diffReasons=["files"],
                 detailedDiff={"files.htpasswd": {"kind": "update", "inputDiff": True}}),
            step("update", pull, {"stringData": SECRET_VALUE}, diffReasons=["stringData"]),
        ]
    )  # fmt: skip


def test_a_password_change_rewrites_files_in_place_with_its_keys_and_no_value(tmp_path: Path) -> None:
    code, text = summary(tmp_path, password_change())
    assert code == 2
    assert "3 to update" in text
    assert "rewritten in place" in text and "A password changes" in text
    assert "The pull secret in namespace `apps` gets new credentials" in text
    assert "<code>files.htpasswd</code>" in text and "<code>users</code>" in text and "<code>stringData</code>" in text
    assert "container is replaced" not in text and "is created" not in text
    assert PASSWORD not in text and "plaintext" not in text


def test_a_mirror_added_to_a_running_stack_is_not_the_registry_created(tmp_path: Path) -> None:
    mirror_rc = f"{RC}::registry-mirror-docker-io"
    steps = [
        *docker_stack(),
        step("create", mirror_rc),
        step("create", urn(RC, "docker:index/volume:Volume", "registry-mirror-docker-io-data")),
        step("create", urn(RC, FILES, "registry-mirror-docker-io-config-files")),
        step("create", urn(RC, CONTAINER, "registry-mirror-docker-io-container"), {"name": "registry-mirror-docker-io"}),
        step("update", urn(f"{TOP}$private-registry:index:NodeTrust", "kubernetes:apps/v1:DaemonSet", "registry-node-trust"),
             diffReasons=["spec"], detailedDiff={"spec.template.spec.containers[0].env[2].value": {"kind": "update"}}),
    ]  # fmt: skip
    code, text = summary(tmp_path, preview(steps))
    assert code == 2
    assert "The registry is created" not in text
    assert "A new container for mirror `docker-io`" in text and "does not restart" in text
    assert "| + create | <code>registry-mirror-docker-io-container</code> | mirror `docker-io` | docker Container | new |" in text
    assert "The node-trust DaemonSet changes" in text


def test_the_read_only_instance_replaced_stops_cluster_pulls_not_pushes(tmp_path: Path) -> None:
    pull = urn(RC, CONTAINER, "registry-pull-container")
    steps = [s for s in docker_stack() if s["urn"] != pull] + replaced(pull, {"name": "registry-pull"}, ["ports"])
    code, text = summary(tmp_path, preview(steps))
    assert code == 2
    assert "**The read-only instance: its container is replaced**: cluster pulls" in text
    assert "fail for about 2 s" in text and "pushes go on" in text
    assert "pushes and pulls" not in text
    assert (
        "| +- replace | <code>registry-pull-container</code> | read-only | docker Container | <code>ports</code> (replace) |"
        in text
    )


def test_the_writer_replaced_says_whether_cluster_pulls_go_on() -> None:
    writer = Change("replace", "registry-registry-container", CONTAINER, WRITER, why=("image",), replace_why=("image",))
    beside = notices([writer], ["admin"], ["admin"], {WRITER, READ_ONLY})
    assert any("pushes (and pulls at the push endpoint) fail" in n and "cluster pulls go on" in n for n in beside)
    alone = notices([writer], ["admin"], ["admin"], {WRITER})
    assert any("pushes and pulls (cluster pulls included) fail for about 2 s" in n for n in alone)


def deployment_update(name: str, object_name: str, strategy: str, keys: list[str]) -> dict[str, Any]:
    return preview(
        [
            *kube_stack(),
            step("update", urn(RD, DEPLOYMENT, name), deployment_inputs(object_name, strategy), diffReasons=["spec"],
                 detailedDiff={k: {"kind": "update", "inputDiff": True} for k in keys}),
        ]
    )  # fmt: skip


ANNOTATION = 'spec.template.metadata.annotations["private-registry/tls"]'


def test_a_recreate_deployment_update_says_the_pod_stops_first(tmp_path: Path) -> None:
    data = deployment_update("registry-deployment-deployment", "registry", "Recreate", [ANNOTATION])
    code, text = summary(tmp_path, data)
    assert code == 2
    assert "**The registry (writer): its Pod is recreated** (strategy `Recreate`" in text
    assert "pushes and pulls (cluster pulls included) fail until the new Pod is ready" in text
    assert "none unavailable" not in text
    assert "| writer, Recreate | kubernetes Deployment |" in text
    assert '<code>spec.template.metadata.annotations["private-registry/tls"]</code>' in text


def test_a_mirror_deployment_update_is_a_recreate_of_the_mirror() -> None:
    data = deployment_update("registry-deployment-mirror-quay-io-deployment", "registry-mirror-quay-io", "Recreate",
                             ["spec.template.spec.containers[0].image"])  # fmt: skip
    [change] = changes(data)
    assert (change.role, change.mirror, change.strategy) == (MIRROR, "quay-io", "Recreate")
    [note] = notices([change], ["admin"], ["admin"], serving(data))
    assert note.startswith("**Mirror `quay-io`: its Pod is recreated**") and "pulls of the images mirror `quay-io`" in note


def test_a_rolling_deployment_update_says_pulls_go_on(tmp_path: Path) -> None:
    data = deployment_update("registry-deployment-pull-deployment", "registry-pull", "RollingUpdate", [ANNOTATION])
    code, text = summary(tmp_path, data)
    assert code == 2
    assert "The read-only instance: its Pods roll one at a time (strategy `RollingUpdate`, none unavailable)" in text
    assert "recreated" not in text and "fail" not in text


def test_a_deployment_change_outside_its_pod_template_restarts_nothing() -> None:
    data = deployment_update("registry-deployment-deployment", "registry", "Recreate", ["spec.replicas"])
    [note] = notices(changes(data), ["admin"], ["admin"], serving(data))
    assert "without restarting a Pod" in note


def test_the_programs_warnings_are_carried_inert(tmp_path: Path) -> None:
    diagnostics = [
        {"urn": TOP, "prefix": "warning: ", "message": "pullReplicas 1: a rollout of @platform-team stops pulls</details>\n",
         "severity": "warning"},
        {"urn": TOP, "prefix": "warning: ", "message": "pullReplicas 1: a rollout of @platform-team stops pulls</details>\n",
         "severity": "warning"},
        {"message": "an info line\n", "severity": "info"},
    ]  # fmt: skip
    code, text = summary(tmp_path, preview(docker_stack(), diagnostics))
    assert code == 0
    assert "**Warnings (the program's and its providers')**" in text
    assert text.count("pullReplicas 1: a rollout of @\u200bplatform-team stops pulls&lt;/details&gt;") == 1
    assert "@platform-team" not in text and "</details>" not in text and "an info line" not in text


def test_no_secret_value_reaches_the_summary(tmp_path: Path) -> None:
    data = password_change()
    data["steps"].append(
        step("update", urn(RD, SECRET, "registry-deployment-env"), {"data": SECRET_VALUE, "note": PASSWORD},
             diffReasons=["data"], detailedDiff={"data.REGISTRY_HTTP_SECRET": {"kind": "update"}})
    )  # fmt: skip
    data["diagnostics"] = [{"message": "a warning without the value", "severity": "warning"}]
    code, text = summary(tmp_path, data, diff="  ~ data: [secret]\n")
    assert code == 2
    assert PASSWORD not in text and "1b47061264138c4ac30d75fd1eb44270" not in text
    assert "<code>data.REGISTRY_HTTP_SECRET</code>" in text and "[secret]" in text  # keys and the CLI's mask only


def test_error_text_can_neither_close_the_block_nor_mention_anyone(tmp_path: Path) -> None:
    errors = tmp_path / "errors.txt"
    errors.write_text("error: port = 0 cc @octocat </pre></details><img src=x> ```\n")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    code, text = run(["--stack", "dev", "--preview", str(empty), "--errors", str(errors), "--failed"])
    assert code == 1 and text.startswith(f"{MARKER}\n### Registry stack `dev`: the preview failed")
    assert "port = 0" in text and "@octocat" not in text and "@\u200boctocat" in text
    assert "</details>" not in text and "<img" not in text and text.count("</pre>") == 1


def test_the_full_diff_is_collapsed_and_trimmed_to_fit_a_comment(tmp_path: Path) -> None:
    lines = [f"    ~ docker:index/container:Container: (update) line {i} @someone </details>" for i in range(4000)]
    code, text = summary(tmp_path, password_change(), diff="\n".join(lines))
    assert code == 2
    assert len(text) < COMMENT_LIMIT - 4000
    assert text.count("<details>") == 1 and text.count("</details>") == 1 and text.rstrip().endswith("</details>")
    assert "line 0 @\u200bsomeone &lt;/details&gt;" in text and "line 3999 " in text  # head and tail kept
    assert "line(s) trimmed to fit a comment" in text and "@someone" not in text
    _, short = summary(tmp_path, password_change(), diff="  ~ one line\n")
    assert "<pre>\n  ~ one line\n</pre>" in short and "trimmed" not in short


def test_roles_come_from_the_components_resource_names() -> None:
    owners = ["team-pull-registry"]  # a component whose own name looks like a role's
    assert role_of("team-pull-registry-registry-container", CONTAINER, {}, owners) == (WRITER, None)
    assert role_of("team-pull-registry-pull-container", CONTAINER, {}, owners) == (READ_ONLY, None)
    assert role_of("team-pull-registry-mirror-ghcr-io-container", CONTAINER, {}, owners) == (MIRROR, "ghcr-io")
    assert role_of("team-pull-registry-mirror-ghcr-io-data", "docker:index/volume:Volume", {}, owners) == (MIRROR, "ghcr-io")
    assert role_of("r-deployment-mirror-docker-io-deployment", DEPLOYMENT, {}, ["r"]) == (MIRROR, "docker-io")
    assert role_of("r-deployment-pull-service", "kubernetes:core/v1:Service", {}, ["r"]) == (READ_ONLY, None)
    assert role_of("x", DEPLOYMENT, {"metadata": {"name": "registry-pull"}}, []) == (READ_ONLY, None)
    assert role_of("registry-tls-ca-cert", "tls:index/selfSignedCert:SelfSignedCert", {}, ["registry"]) == (None, None)


def test_a_replacement_is_one_change_with_the_keys_of_all_its_steps() -> None:
    pull = urn(RC, CONTAINER, "registry-pull-container")
    plan = changes(preview([*docker_stack(pull=False), *replaced(pull, {}, ["ports"])]))
    assert plan == [Change("replace", "registry-pull-container", CONTAINER, READ_ONLY, None, None, ("ports",), ("ports",))]
    assert changes(preview(docker_stack())) == []


def test_a_new_stack_says_created_once() -> None:
    data = preview(
        [
            step("create", STACK),
            step("create", TOP),
            step("create", urn(RC, CONTAINER, "registry-registry-container")),
            step("create", urn(RC, CONTAINER, "registry-pull-container")),
        ]
    )
    found = notices(changes(data), [], ["admin"], serving(data))
    assert found == ["The registry is created: nothing runs yet that anyone could notice."]


def test_a_rotation_of_the_pull_credential_and_the_run_that_drops_the_old_one_say_so() -> None:
    gate = "pulumi-python:dynamic/private-registry:PullGate"
    credential = "pulumi-python:dynamic/private-registry:PullCredential"
    file = Change("update", "registry-users-file", "pulumi-python:dynamic:Resource")
    rotating = notices([file, Change("update", "registry-users-pull-credential", credential),
                        Change("update", "registry-pull-gate", gate)], ["admin"], ["admin"])  # fmt: skip
    assert any("credential rotates" in line and "at the next `pulumi up`" in line for line in rotating)
    assert not any("A password changes" in line for line in rotating)
    dropping = notices([file], ["admin"], ["admin"])
    assert any("the pull password the last rotation kept valid is dropped" in line for line in dropping)


def test_users_added_and_removed_are_named() -> None:
    plan = [Change("update", "registry-users-file", "pulumi-python:dynamic:Resource")]
    found = notices(plan, ["admin", "ci"], ["admin", "dave"])
    assert "User(s) added: `dave`." in found
    assert "User(s) removed: `ci`: their logins stop working." in found
    assert not any("A password changes" in line for line in found)


def test_certificates_say_whether_nodes_must_trust_something_new() -> None:
    server = notices([Change("replace", "registry-tls-server-cert", "tls:index/locallySignedCert:LocallySignedCert")], [], [])
    assert server == ["A new server certificate is issued: clients and nodes keep trusting the same CA (`caCertificate` stays)."]
    ca = notices(
        [
            Change("replace", "registry-tls-ca-cert", "tls:index/selfSignedCert:SelfSignedCert"),
            Change("replace", "registry-tls-server-cert", "tls:index/locallySignedCert:LocallySignedCert"),
        ],
        [],
        [],
    )
    assert len(ca) == 1 and ca[0].startswith("**The CA changes**")


def test_declared_images_are_listed_by_what_happens_to_them() -> None:
    image = "pulumi-python:dynamic/private-registry:Image"
    plan = [
        Change("create", "registry-images-team/app:1", image),
        Change("update", "registry-images-base/busybox:1.37", image),
        Change("delete", "registry-images-old/tool:2", image),
    ]
    assert notices(plan, ["admin"], ["admin"]) == [
        "Image(s) copied into the registry: `team/app:1`.",
        "Image(s) copied again (the source's digest moved, or the name changed): `base/busybox:1.37`.",
        "Image(s) no longer declared (they stay in the registry): `old/tool:2`.",
    ]


def test_markdown_without_changes_has_no_table() -> None:
    assert markdown("dev", [], []) == f"{MARKER}\n### Registry stack `dev`: no changes\n\n`pulumi preview` plans nothing to do.\n"


CAPTURED = Path(__file__).resolve().parent / "pr_check_previews"


def captured(tmp_path: Path, case: str) -> tuple[int, str]:
    """A preview of the e2e stack (target docker, writer and read-only instance) captured with
    `pr-check.sh --keep` (the unchanged steps slimmed to type and name), and its CLI diff."""
    data = json.loads((CAPTURED / f"{case}.json").read_text())
    return summary(tmp_path, data["preview"], "--deployed-users", "admin,ci,puller", "--planned-users", "admin,ci,puller",
                   diff=data["diff"])  # fmt: skip


def test_captured_unchanged(tmp_path: Path) -> None:
    code, text = captured(tmp_path, "unchanged")
    assert code == 0 and "no changes" in text and "bcryptCost = 5 is below 10" in text and "24 unchanged" in text


def test_captured_password_change_names_the_secret_input_without_a_value(tmp_path: Path) -> None:
    code, text = captured(tmp_path, "password")
    assert code == 2 and "rewritten in place" in text
    assert (
        "| ~ update | <code>registry-users-file</code> |  | pulumi-python Resource | a secret input: <code>users</code>" in text
    )
    assert (
        "| ~ update | <code>registry-pull-config-files</code> | read-only |" in text
        and "<code>files</code> (value hidden)" in text
    )
    assert "users     : [secret]" in text


def test_captured_mirror_added(tmp_path: Path) -> None:
    code, text = captured(tmp_path, "mirror-added")
    assert code == 2 and "The registry is created" not in text
    assert "A new container for mirror `docker-io`" in text


def test_captured_read_only_replaced(tmp_path: Path) -> None:
    code, text = captured(tmp_path, "read-only-replaced")
    assert code == 2 and "**The read-only instance: its container is replaced**" in text and "pushes go on" in text
    assert "<code>ports[0].external</code> (replace)" in text and "external: 25370 =&gt; 21052" in text


def test_captured_recreate_of_the_writer_on_target_kubernetes(tmp_path: Path) -> None:
    code, text = captured(tmp_path, "kube-recreate")
    assert code == 2 and "**The registry (writer): its Pod is recreated** (strategy `Recreate`" in text
    assert (
        '| writer, Recreate | kubernetes Deployment | <code>spec.template.metadata.annotations["example.com/revision"]</code> |'
        in text
    )


# Texts a preview could carry (an error, a warning, a diff line, a resource name, a key) that try to
# leave their place in the comment, notify someone, close an issue or add a link (issue 23).
HOSTILE = [
    "</details></pre></code></summary></td></tr></table><details open><summary>pwned",
    "```\n# a heading\n```",
    "ok\r```\r# a heading after a lone CR\r| a | b |\r|---|---|",
    "cc @octocat and @github/security-team, or x@evil.example",
    "closes #1, fixes GH-2, resolves owner/repo#3, see https://github.com/o/r/issues/4",
    "[click](https://evil.example) ![pixel](https://evil.example/p.png) <https://evil.example> www.evil.example",
    "<img src=x onerror=alert(1)><a href='https://evil.example'>x</a><script>alert(2)</script>",
    "a backslash before our markup \\",
    "`a span` $x$ [x]: https://evil.example",
]
LINKED = re.compile(r"@\w|#\d|(?i:\bgh-\d)|(?i:https?://)|(?i:\bwww\.)")  # what GitHub would link or notify
EMPHASIS = {"br", "em", "strong", "del"}  # the only tags a text may add: line breaks and emphasis


def as_github_renders(markdown_text: str) -> str:
    """The comment as HTML, by GitHub's own Markdown library (cmark-gfm), raw HTML passed through."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown_text, options=Options.CMARK_OPT_UNSAFE)


def structure(rendered: str) -> Counter[str]:
    """The rendered comment's elements (opening and closing tags), emphasis and line breaks left out."""
    tags = re.findall(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)", rendered)
    return Counter(f"{close}{name.lower()}" for close, name in tags if name.lower() not in EMPHASIS)


def words(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", rendered))


def comments_carrying(tmp_path: Path, text: str) -> dict[str, str]:
    """The comment with `text` as a warning, the preview's error, a line of the diff, and a resource
    name (a pull secret's namespace) and changed key."""
    warned = preview(docker_stack(), [{"urn": TOP, "prefix": "warning: ", "message": text, "severity": "warning"}])
    errors = tmp_path / "errors.txt"
    errors.write_text(f"error: {text}\n")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    secret = urn(f"{TOP}$private-registry:index:PullSecrets", SECRET, f"registry-pull-secrets-{text}")
    named = preview([*docker_stack(), step("update", secret, {}, detailedDiff={text: {"kind": "update"}})])
    return {
        "warning": summary(tmp_path, warned)[1],
        "error": run(["--stack", "dev", "--preview", str(empty), "--errors", str(errors), "--failed"])[1],
        "diff": summary(tmp_path, password_change(), diff=f"  ~ {text}\n")[1],
        "name and key": summary(tmp_path, named)[1],
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_no_text_of_the_preview_can_leave_its_place_notify_anyone_or_add_a_link(tmp_path: Path, text: str) -> None:
    plain = comments_carrying(tmp_path, "plain words")
    for where, comment in comments_carrying(tmp_path, text).items():
        rendered = as_github_renders(comment)
        # the same elements as with plain words: no block closed or opened, no link, image or script
        assert structure(rendered) == structure(as_github_renders(plain[where])), (where, comment)
        assert not LINKED.search(words(rendered)), (where, LINKED.findall(words(rendered)), comment)
        assert "evil.example" not in comment or "evil" in words(rendered)  # shown, as text
