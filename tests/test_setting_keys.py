"""Unit tests: the settings table is the one source of truth for Pulumi.yaml, the README and the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import yaml

from components import setting_keys
from components.config import parse_config
from components.setting_keys import KEYS, NAMES, PROJECT
from components.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_pulumi_yaml_and_readme_are_generated_from_the_table() -> None:
    new_yaml, new_readme = setting_keys.with_generated_parts((ROOT / "Pulumi.yaml").read_text(), (ROOT / "README.md").read_text())
    assert (ROOT / "Pulumi.yaml").read_text() == new_yaml, "run: venv/bin/python -m components.setting_keys --write"
    assert (ROOT / "README.md").read_text() == new_readme, "run: venv/bin/python -m components.setting_keys --write"


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
