"""Benchmark: how many one-line mistakes in components/ the unit and program tests catch.

Run: venv/bin/python bench/mutations.py [--only TEXT] [--list]. Each mutation of SAMPLE changes one
line of one module (the exact old text, which must occur once, for the new), in a temporary copy of
the repository (never the working tree: it may be edited meanwhile), and the unit and program tests
run there (`pytest -x -q -m "not e2e" tests`, stopping at the first failure; the test files that
name the mutated module run first, then all the others). A mutation is caught when a test fails;
it survives when every test passes. The figure is the caught share: it is printed (and saved for
docs/figures.md), never judged, so a survivor does not fail the run. What does fail it: tests that
fail without any mutation (the figure would mean nothing), a mutation whose old text is no longer
found once (SAMPLE must follow the code it mutates), or a pytest that fails for itself.

The sample is chosen by hand: mistakes someone could plausibly make in one line, each of which
changes what a user gets (a security property, a replaced resource, a setting accepted that breaks
the registry). It is a sample, not an exhaustive mutation run: the share says how well the tests
guard lines like these, not all lines. SAMPLE is two parts: GUARDED, mutations the tests were
written or extended against once they survived, and HELD_OUT, added afterwards and left without
tests of their own; the figure gives the held-out part's share too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import REPO, save

from tests.test_fresh_clone import committed_stack_files  # each tracked Pulumi.<stack>.yaml as the index holds it

# The tests run in the copy with the project's own interpreter; bytecode is never written, so a
# mutation of the same length within the same second cannot be hidden by a stale .pyc. No
# tracebacks (`--tb=no`): only the failing test's name is shown, and on Python 3.11.7 pytest's
# traceback of some program-test failures ends in an INTERNALERROR ("AST constructor recursion
# depth mismatch", a CPython bug) instead of the failure (seen 2026-12-07).
# The test that holds each mutation's old text to its module fails for every applied mutation: it
# checks this sample, not the code, so it is left out of the runs (it would count them all caught).
SAMPLE_TEST = "tests/test_mutation_guards.py::test_every_mutation_of_the_sample_still_finds_its_line"
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "--tb=no", "-m", "not e2e", "-p", "no:cacheprovider",
          "--deselect", SAMPLE_TEST, "tests"]  # fmt: skip
TIMEOUT_SECONDS = 600  # one test run; a mutation that hangs the tests is caught (reported as such)


@dataclass(frozen=True)
class Mutation:
    """One line of `file` (below components/) with `old` replaced by `new`, and why it matters."""

    file: str
    old: str
    new: str
    why: str


# Mutations the tests were written or extended against (tests/test_mutation_guards.py and others).
GUARDED: tuple[Mutation, ...] = (
    # The survivors named in issue 24, each with a test of its own since.
    Mutation(
        "registry_kube.py",
        "env_hash = pulumi.Output.unsecret(",
        "env_hash = pulumi.Output.from_input(",
        "the whole Deployment spec becomes secret: every diff of it unreadable in previews",
    ),
    Mutation(
        "kube_provider.py",
        "enable_secret_mutable=True,",
        "enable_secret_mutable=False,",
        "a changed Secret is replaced, not updated: pulls fail while it is missing",
    ),
    Mutation(
        "pull_secret.py",
        "opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[secret]),",
        "opts=pulumi.ResourceOptions(parent=self, provider=provider),",
        "the ServiceAccount may name the pull secret before it exists",
    ),
    Mutation("mirrors.py", "used[port] = path", "pass", "two mirrors accepted on one port: the second cannot start"),
    Mutation(
        "names.py",
        'host.split(".", 1)[1] == name[2:]',
        "host.endswith(name[1:])",
        "a wildcard SAN accepted for several labels, which TLS clients refuse",
    ),
    Mutation(
        "pods.py",
        "SELECTOR_LABELS = (NAME_LABEL, PART_OF_LABEL)",
        "SELECTOR_LABELS = (NAME_LABEL,)",
        "a Pod label `app.kubernetes.io/part-of` accepted: it takes the Pods out of the metrics Service",
    ),
    Mutation(
        "leftover_container.py",
        'IDLE_STATES = ("created", "exited", "dead")',
        'IDLE_STATES = ("created", "exited")',
        "a dead leftover container blocks `up` instead of being removed",
    ),
    Mutation(
        "seeded_images.py",
        'HELD = ("repository", "tag", "sourceDigest", "endpoint")',
        'HELD = ("repository", "tag", "sourceDigest")',
        "a new endpoint does not copy the declared images into the registry there",
    ),
    # Names, addresses, claims.
    Mutation("names.py", "if not 1 <= port <= 65535:", "if not 0 <= port <= 65535:", "endpoint port 0 accepted"),
    Mutation("names.py", '{slug}"[:63]', '{slug}"[:64]', "Kubernetes object names of 64 characters: refused by the API server"),
    Mutation(
        "names.py",
        'return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"',
        'return f"{host}:{port}"',
        "an IPv6 endpoint without brackets: not an address clients can parse",
    ),
    Mutation(
        "claims.py",
        'held[f"Docker volume {target.data_volume}"] = "dataVolume"',
        "pass",
        "two registries of one program share a data volume and mix their images",
    ),
    # Credentials.
    Mutation(
        "htpasswd.py",
        "if old and old.password == password and hash_cost(old.hash) == user_cost:",
        "if old and old.password == password:",
        "a raised bcryptCost never rehashes the existing users",
    ),
    Mutation("htpasswd.py", "return user + ROTATED_SUFFIX", "return user", "a pull credential rotation overwrites the live one"),
    Mutation(
        "generated_secret.py",
        'additional_secret_outputs=["value"]',
        "additional_secret_outputs=[]",
        "a generated password or HTTP secret in plaintext in the state",
    ),
    Mutation(
        "pull_gate.py",
        "return found is not None and bcrypt.checkpw(password.encode(), found.encode())",
        "return found is not None",
        "the pull secrets switch before the replicas accept the new password",
    ),
    Mutation(
        "pull_gate.py",
        'if pod["metadata"].get("deletionTimestamp") or pod.get("status", {}).get("phase") != "Running":',
        'if pod.get("status", {}).get("phase") != "Running":',
        "the gate waits for terminating Pods that never get the new Secret",
    ),
    # The registry's configuration.
    Mutation(
        "distribution.py",
        '"true" if instance.delete_enabled and role == "read-write" else "false"',
        '"true" if instance.delete_enabled else "false"',
        "the read-only instance accepts deletes",
    ),
    Mutation(
        "distribution.py",
        '"REGISTRY_STORAGE_REDIRECT_DISABLE": "true",',
        '"REGISTRY_STORAGE_REDIRECT_DISABLE": "false",',
        "S3 clients redirected to presigned bucket URLs that nodes cannot reach",
    ),
    Mutation("registry.py", 'PRIVATE, PUBLIC = "0400", "0444"', 'PRIVATE, PUBLIC = "0444", "0444"', "the TLS key world-readable"),
    Mutation(
        "registry_kube.py",
        "if workload.replicas > 1:",
        "if workload.replicas > 2:",
        "two replicas without a PodDisruptionBudget: a drain takes both",
    ),
    Mutation(
        "node_trust.py",
        "host = pull_endpoint or endpoint",
        "host = endpoint",
        "nodes pull from the writer, not the read-only instance",
    ),
    Mutation(
        "node_trust.py",
        "  sleep 30 & wait $!",
        "  sleep 30",
        "TERM waits for the installer's 30 s sleep: the trust DaemonSet's Pods take 30 s to go",
    ),
    # Certificates.
    Mutation(
        "tls.py",
        'SERVER_USES = ["server_auth", "digital_signature", "key_encipherment"]',
        'SERVER_USES = ["digital_signature", "key_encipherment"]',
        "a server certificate without serverAuth: clients refuse it",
    ),
    Mutation(
        "tls.py",
        'return {"algorithm": "ECDSA", "ecdsa_curve": ecdsa_curve}',
        'return {"algorithm": "ECDSA"}',
        "ECDSA keys on pulumi-tls's default curve P224, which clients refuse",
    ),
    Mutation(
        "own_certificate.py",
        "if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:",
        "if not moment <= leaf.not_valid_after_utc:",
        "a certificate not valid yet accepted",
    ),
    # Providers' diffs and checks.
    Mutation(
        "config_volume.py",
        'replaces = ["volume"] if olds.get("volume") != news.get("volume") else []',
        "replaces: list[str] = []",
        "a renamed config volume updated in place: the old one is written, the new one stays empty",
    ),
    Mutation(
        "target_guard.py",
        "changes=any(olds.get(k) != news.get(k) for k in",
        "changes=all(olds.get(k) != news.get(k) for k in",
        "a stack's recorded cluster alone changed: the record never updated",
    ),
    Mutation("oci.py", "if len(data) > limit:", "if len(data) > limit + 1:", "a body one byte over its limit read whole"),
    Mutation(
        "settings.py",
        "if cost > 13:",
        "if cost > 14:",
        "bcryptCost 14 (seconds per pull) without its warning",
    ),
    # Survivors of the held-out part of 2026-12-07, guarded since by tests/test_mutation_guards.py
    Mutation(
        "seeded_images.py", 'if held == props.get("digest"):', "if held:", "an overwritten tag in the registry never copied again"
    ),
    Mutation(
        "images.py",
        'if (texts["username"] is None) != (texts["password"] is None):',
        'if texts["username"] is not None and texts["password"] is None:',
        "a source registry password without a username accepted",
    ),
    Mutation(
        "pods.py",
        'TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")',
        'TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule")',
        "a NoExecute toleration refused",
    ),
    Mutation(
        "registry.py",
        '[cert or "", upstream_ca or ""]',
        '[cert or ""]',
        "a mirror keeps its old upstream CA: the container is not restarted when it changes",
    ),
    Mutation("names.py", "len(name) <= 253", "len(name) <= 254", "Kubernetes object names of 254 characters accepted"),
)
# Added after the tests for the survivors above were written, and given no test of their own then:
# the share of these says how well the tests catch mistakes nobody wrote a test against.
HELD_OUT: tuple[Mutation, ...] = (
    Mutation(
        "service.py",
        "not (service.source_ranges or internal(service.annotations) or service.public)",
        "not (service.source_ranges or service.public)",
        "an internal load balancer (by its annotation) taken for a public one and refused",
    ),
    Mutation(
        "docker_engine.py", "if bool(cert) != bool(key):", "if cert and not key:", "a Docker client key without its certificate"
    ),
    Mutation("images.py", "seen[image.name] = index", "pass", "two declared images of one name: one overwrites the other"),
    Mutation(
        "ordering.py",
        "return [] if pulumi.runtime.is_dry_run() else list(resources)",
        "return list(resources)",
        "orderings that matter only when applying lengthen every preview",
    ),
    Mutation(
        "child_env.py",
        'NEVER = re.compile(r"PULUMI_.*|.*PASSPHRASE.*")',
        'NEVER = re.compile(r"PULUMI_.*")',
        "a passphrase variable reaches docker, kubectl and credential plugins",
    ),
    Mutation(
        "mirrors.py",
        '_DURATION = re.compile(r"([0-9]+(h|m|s))+")',
        '_DURATION = re.compile(r"([0-9]+(d|h|m|s))+")',
        "a mirror ttl in days accepted, which the registry cannot read (the mirror does not start)",
    ),
    Mutation(
        "settings.py",
        "MAX_BCRYPT_PASSWORD_BYTES = 72",
        "MAX_BCRYPT_PASSWORD_BYTES = 73",
        "a 73-byte password accepted: bcrypt checks only its first 72 bytes",
    ),
    Mutation(
        "settings.py",
        'if cost < 10 and "bcryptCost" in raw:',
        'if cost < 4 and "bcryptCost" in raw:',
        "no warning for a weak bcrypt cost of configured passwords",
    ),
    Mutation(
        "distribution.py",
        "DRAIN_SECONDS = 5  # in-flight requests finish this long after a stop signal",
        "DRAIN_SECONDS = 0  # in-flight requests finish this long after a stop signal",
        "a stopping registry drops the requests in flight",
    ),
)
SAMPLE = GUARDED + HELD_OUT
TARGET_SHARE = 85  # percent of the sample caught (issue 24); printed as PASS or MISS, never a failure


def tracked_files() -> list[str]:
    """The repository's files as they are in the working tree: tracked and new (not ignored) ones."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def copy_repository(into: Path) -> None:
    """A copy of the working tree's files, as a git repository whose index holds them all (tests read
    the index, e.g. tests/test_fresh_clone.py); the project's venv is used from where it is.
    """
    for name in tracked_files():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    # A stack file is written by `pulumi up` itself (the dev stack's encryption salt, in CI's clone
    # after scripts/up.sh): the copy takes it as the index holds it, which is what the tests check.
    for name, text in committed_stack_files().items():
        (into / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(into)], check=True)
    subprocess.run(["git", "-C", str(into), "add", "-A"], check=True)


@dataclass(frozen=True)
class Outcome:
    verdict: str  # caught, survived, timeout (caught: the tests hang), error (pytest failed for itself)
    seconds: float
    detail: str  # the first failing test, or why nothing ran


def first_tests(copy: Path, module: str) -> list[str]:
    """The test files that name `module` (components/<module>.py): run first, so that a mutation
    there is usually caught within seconds. The rest of the tests run after them all the same.
    """
    stem = module.removesuffix(".py")
    names = (f"components.{stem}", f"components import {stem}", f"private_registry.{stem}")
    return sorted(
        str(path.relative_to(copy))
        for path in (copy / "tests").glob("test_*.py")
        if any(name in path.read_text() for name in names)
    )


def run_tests(copy: Path, first: list[str] | None = None) -> Outcome:
    """The unit and program tests in the copy (`first` before the others), stopping at the first failure."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    try:
        command = [*PYTEST[:-1], *(first or []), PYTEST[-1]]  # pytest collects a file named twice once
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return Outcome("timeout", time.perf_counter() - started, f"the tests ran longer than {TIMEOUT_SECONDS} s")
    seconds = time.perf_counter() - started
    lines = done.stdout.splitlines()
    if done.returncode == 0:
        return Outcome("survived", seconds, lines[-1] if lines else "")
    failed = [line.split(" - ")[0] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    summary = f"{lines[-1] if lines else ''} (pytest exit {done.returncode})"
    if done.returncode in (1, 2):  # tests failed; or collection failed (a mutation that breaks an import)
        return Outcome("caught", seconds, failed[0] if failed else summary)
    internal = [line for line in lines if line.startswith("INTERNALERROR>")]
    return Outcome("error", seconds, f"{summary} {internal[-1] if internal else done.stderr.strip()[-300:]}")


def apply(copy: Path, mutation: Mutation) -> str | None:
    """Mutate the copy's file; the original text (to restore), or None when `old` is not there once."""
    path = copy / "components" / mutation.file
    original = path.read_text()
    if original.count(mutation.old) != 1:
        return None
    path.write_text(original.replace(mutation.old, mutation.new))
    return original


def stop(signum: int, _frame: object) -> None:
    """TERM as Ctrl-C: the running tests are killed and the copy is removed on the way out."""
    raise SystemExit(f"stopped by signal {signum}")


def measure(copy: Path, sample: list[Mutation]) -> tuple[list[tuple[Mutation, Outcome]], list[str]]:
    """Each mutation in turn, in `copy`, followed by the tests; the outcomes, and what could not be
    judged (a stale mutation, a pytest that failed for itself).
    """
    outcomes: list[tuple[Mutation, Outcome]] = []
    unjudged: list[str] = []
    for m in sample:
        original = apply(copy, m)
        if original is None:
            unjudged.append(f"components/{m.file}: {m.old!r} is not there exactly once (update SAMPLE)")
            print(f"  STALE     {unjudged[-1]}", flush=True)
            continue
        try:
            outcome = run_tests(copy, first_tests(copy, m.file))
            if outcome.verdict == "error":  # pytest failed for itself (5: no tests, 3: internal error): once more
                print(f"  (pytest failed for itself, once more: {outcome.detail})", flush=True)
                outcome = run_tests(copy, first_tests(copy, m.file))
        finally:
            (copy / "components" / m.file).write_text(original)
        print(f"  {outcome.verdict:9s} {outcome.seconds:4.0f} s  components/{m.file}: {m.why}  [{outcome.detail}]", flush=True)
        if outcome.verdict == "error":
            unjudged.append(f"components/{m.file}: {m.why}: {outcome.detail}")
        else:
            outcomes.append((m, outcome))
    return outcomes, unjudged


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the mutations whose file, old text or reason contains this")
    parser.add_argument("--list", action="store_true", help="print the sample and exit")
    args = parser.parse_args()
    sample = [m for m in SAMPLE if not args.only or any(args.only in text for text in (m.file, m.old, m.new, m.why))]
    if args.list or not sample:
        for m in sample:
            print(f"{m.file}: {m.old!r} -> {m.new!r} ({m.why})")
        raise SystemExit(0 if sample else f"no mutation matches {args.only!r}")

    with tempfile.TemporaryDirectory(prefix="mutations-") as tmp:
        copy = Path(tmp)
        copy_repository(copy)
        print(f"a copy of the working tree in {copy}; per mutation: pytest {' '.join(PYTEST[3:])},", flush=True)
        print("  the test files that name the mutated module first", flush=True)
        baseline = run_tests(copy)
        print(f"  without a mutation: {baseline.verdict} in {baseline.seconds:.0f} s ({baseline.detail})", flush=True)
        if baseline.verdict != "survived":
            raise SystemExit("the tests fail without any mutation: fix them first, the figure would mean nothing")
        outcomes, unjudged = measure(copy, sample)

    caught = [m for m, o in outcomes if o.verdict in ("caught", "timeout")]
    survivors = [m for m, o in outcomes if o.verdict == "survived"]
    share = 100 * len(caught) / len(outcomes) if outcomes else 0.0
    figure = (
        f"mutation sample (bench/mutations.py): {len(caught)} of {len(outcomes)} one-line mutations of components/ "
        f"caught by the unit and program tests ({share:.0f}%, target >= {TARGET_SHARE}%: "
        f"{'PASS' if share >= TARGET_SHARE else 'MISS'})"
    )
    held_out = [(m, o) for m, o in outcomes if m in HELD_OUT]
    if held_out:
        caught_held_out = sum(1 for m, _ in held_out if m in caught)
        figure += f"; of the held-out part, {caught_held_out} of {len(held_out)}"
    print(f"== {figure}; {sum(o.seconds for _, o in outcomes):.0f} s of tests")
    for m in survivors:
        print(f"  survivor: components/{m.file}: {m.old!r} -> {m.new!r} ({m.why})")
    if not args.only:
        save("mutations", [], [figure + (f"; survivors: {'; '.join(m.why for m in survivors)}" if survivors else "")])
    if unjudged:
        raise SystemExit("mutations not judged:\n  " + "\n  ".join(unjudged))


if __name__ == "__main__":
    main()
