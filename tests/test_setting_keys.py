"""Unit tests: the settings table is the one source of truth for Pulumi.yaml, the README and the defaults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components import setting_keys
from components.config import parse_config
from components.model import KubernetesTarget, Settings, SettingsError
from components.setting_keys import FIELDS, KEYS, NAMES, PROJECT
from components.settings import SUBJECT_FIELDS, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_pulumi_yaml_readme_and_settings_doc_are_generated_from_the_table() -> None:
    new_yaml, new_readme = setting_keys.with_generated_parts((ROOT / "Pulumi.yaml").read_text(), (ROOT / "README.md").read_text())
    assert (ROOT / "Pulumi.yaml").read_text() == new_yaml, "run: venv/bin/python -m components.setting_keys --write"
    assert (ROOT / "README.md").read_text() == new_readme, "run: venv/bin/python -m components.setting_keys --write"
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert doc == setting_keys.settings_doc(), "run: venv/bin/python -m components.setting_keys --write"
    assert setting_keys.main(["setting_keys"]) == 0  # the check CI runs agrees


def test_the_readme_has_one_short_line_per_setting_and_the_doc_every_detail() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(setting_keys.README_BEGIN) : readme.index(setting_keys.README_END)].splitlines()[1:]
    assert all(len(line) <= 200 for line in block), max(block, key=len)
    assert [line.split("`")[1] for line in block if line.startswith("- `")] == list(NAMES)
    assert "docs/settings.md" in block[0]
    doc = (ROOT / "docs" / "settings.md").read_text()
    for key in KEYS:  # the full meaning and every key of an object setting are in the doc
        assert key.meaning in doc and all(f"`{f.name}`: {f.shown}" in doc for f in FIELDS.get(key.name, ())), key.name


def test_a_stale_generated_file_is_reported(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    for name in ("Pulumi.yaml", "README.md", "docs/settings.md"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    monkeypatch.setattr(setting_keys, "__file__", str(tmp_path / "components" / "setting_keys.py"))
    assert setting_keys.main(["setting_keys"]) == 0
    (tmp_path / "docs" / "settings.md").write_text("edited by hand\n")
    assert setting_keys.main(["setting_keys"]) == 1
    assert "out of date: settings.md" in capsys.readouterr().err
    assert setting_keys.main(["setting_keys", "--write"]) == 0 and setting_keys.main(["setting_keys"]) == 0


def test_defaults_the_engine_applies_from_pulumi_yaml_equal_the_programs_own() -> None:
    # The engine hands the program every declared default as config: strings as they are, the rest as JSON.
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    as_engine_passes = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in ((k, d["default"]) for k, d in declared.items())
    }
    pulumi.runtime.set_all_config(as_engine_passes, [])
    raw = parse_config(pulumi.Config(PROJECT), as_engine_passes, set())
    assert set(raw.values) == {k.name for k in KEYS if k.typed}
    assert load_settings(raw.values, "dev") == load_settings({}, "dev")


def test_every_key_of_the_table_is_read_and_nothing_else_is_known() -> None:
    for key in KEYS:  # a bad value of each key is reported under its own name: the key is read
        wrong: object = {"not": "valid"} if key.kind != "object" else "not an object"
        try:
            load_settings({key.name: wrong}, "dev")
        except SettingsError as error:
            assert any(p.startswith(f"{PROJECT}:{key.name}") for p in error.problems), (key.name, error.problems)
        else:
            raise AssertionError(f"{key.name}: a {type(wrong).__name__} was accepted")
    assert len(NAMES) == len(set(NAMES))


KUBE = {"target": "kubernetes", "kubernetes": {"context": "c"}, "replicas": 1}
# Where each object key with a default lands in the parsed settings, and what makes its object apply.
APPLIED: dict[str, tuple[dict[str, object], Callable[[Settings], object]]] = {
    **{
        f"subject.{name}": ({}, lambda s, attr=attr: getattr(s.subject, attr))
        for name, attr in SUBJECT_FIELDS.items()
        if name != "commonName"
    },
    "users.access": ({}, lambda s: s.users[0].access),
    "storage.driver": (KUBE, lambda s: kube(s).storage.driver),
    "storage.size": (KUBE, lambda s: kube(s).storage.size),
    "storage.accessMode": (KUBE, lambda s: kube(s).storage.access_mode),
    "storage.region": ({**KUBE, "storage": {"driver": "s3", "bucket": "images"}}, lambda s: kube(s).storage.region),
    "pullSecret.name": ({}, lambda s: s.pull_secret.name),
    "pullSecret.patchDefaultServiceAccount": ({}, lambda s: s.pull_secret.patch_default_service_account),
    "pullSecret.allowPushUser": ({}, lambda s: s.pull_secret.allow_push_user),
    "nodeTrust.mode": ({}, lambda s: s.node_trust.mode),
    "nodeTrust.namespace": ({}, lambda s: s.node_trust.namespace),
    "nodeTrust.certsDir": ({}, lambda s: s.node_trust.certs_dir),
    "mirrors.ttl": ({"mirrors": {"quay.io": {"port": 5002}}}, lambda s: s.mirrors[0].ttl),
    "metrics.enabled": ({}, lambda s: s.metrics.enabled),
    "container.memoryMiB": ({}, lambda s: s.target.limits.memory_mib),
    "container.cpus": ({}, lambda s: s.target.limits.cpus),
    "container.logMaxSize": ({}, lambda s: s.target.limits.log_max_size),
    "container.logMaxFiles": ({}, lambda s: s.target.limits.log_max_files),
    "metrics.serviceMonitor": ({}, lambda s: s.metrics.service_monitor),
    "mirrors.size": ({"mirrors": {"quay.io": {"port": 5002}}}, lambda s: s.mirrors[0].size),
    "service.public": (KUBE, lambda s: kube(s).service.public),
}


def kube(s: Settings) -> KubernetesTarget:
    assert isinstance(s.target, KubernetesTarget)
    return s.target


def test_every_object_setting_lists_its_keys_in_the_table() -> None:
    assert set(FIELDS) == {k.name for k in KEYS if k.kind == "object"}


def test_object_keys_default_to_the_tables_values() -> None:
    with_defaults = {
        f"{setting}.{f.name}": f.default for setting, fields in FIELDS.items() for f in fields if f.default is not None
    }
    assert set(APPLIED) == set(with_defaults), "every object key with a default is checked here"
    for path, (raw, read) in APPLIED.items():
        assert read(load_settings(raw, "dev")) == with_defaults[path], path
