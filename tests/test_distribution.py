"""The registry's contract: the variables of one Distribution instance per role and storage."""

from __future__ import annotations

import json

import pytest

from components.distribution import (
    DEBUG_ADDR,
    ROLES,
    STORAGE_ROOT,
    health_check_command,
    instance_variables,
    plain_instance,
    secret_variables,
    storage_variables,
)
from components.mirrors import Mirror
from components.model import StorageSettings

FILESYSTEM = StorageSettings(driver="filesystem")
S3 = StorageSettings(driver="s3", bucket="images", endpoint="http://s3.local:9000", access_key="a", secret_key="s")


def test_a_read_write_instance_on_a_volume() -> None:
    assert instance_variables(plain_instance("read-write", "private-registry dev"), FILESYSTEM, "hs") == {
        "REGISTRY_HTTP_ADDR": "0.0.0.0:5000",
        "REGISTRY_HTTP_TLS_CERTIFICATE": "/etc/distribution/certs/tls.crt",
        "REGISTRY_HTTP_TLS_KEY": "/etc/distribution/certs/tls.key",
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": "private-registry dev",
        "REGISTRY_AUTH_HTPASSWD_PATH": "/etc/distribution/auth/htpasswd",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": STORAGE_ROOT,
        "REGISTRY_HTTP_SECRET": "hs",
        "REGISTRY_HTTP_DRAINTIMEOUT": "5s",
        "REGISTRY_HTTP_DEBUG_ADDR": DEBUG_ADDR,
        "REGISTRY_HEALTH_STORAGEDRIVER_ENABLED": "true",
        "REGISTRY_STORAGE_DELETE_ENABLED": "false",
    }


def test_a_read_only_instance_never_deletes_nor_purges_and_sets_maintenance_as_one_map() -> None:
    variables = instance_variables(plain_instance("read-only", "r", delete_enabled=True), S3)
    assert variables["REGISTRY_STORAGE_DELETE_ENABLED"] == "false"
    assert json.loads(variables["REGISTRY_STORAGE_MAINTENANCE"]) == {
        "uploadpurging": {"enabled": False},
        "readonly": {"enabled": True},
    }
    # The single variable panics registry 3.1.2 at start.
    assert not [k for k in variables if k.startswith("REGISTRY_STORAGE_MAINTENANCE_")]
    assert "REGISTRY_HTTP_SECRET" not in variables  # delivered apart (secret_variables)
    assert variables["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"] == ""  # nothing to go stale after a collection
    assert "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR" not in instance_variables(plain_instance("read-write", "r", True), S3)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_shares_storage_tls_auth_and_the_health_listener(role: str) -> None:
    mirror = Mirror("quay.io", 5002, "https://quay.io") if role == "mirror" else None
    variables = instance_variables(plain_instance(role, "r", mirror=mirror), S3)  # type: ignore[arg-type]
    assert {k: v for k, v in variables.items() if k.startswith("REGISTRY_STORAGE_S3")} == {
        k: v for k, v in storage_variables(S3).items() if k.startswith("REGISTRY_STORAGE_S3")
    }
    assert variables["REGISTRY_HTTP_DEBUG_ADDR"] == DEBUG_ADDR and DEBUG_ADDR in health_check_command()[-1]
    assert variables["REGISTRY_STORAGE_REDIRECT_DISABLE"] == "true"


def test_s3_storage_variables_and_which_variables_are_secret() -> None:
    assert storage_variables(S3)["REGISTRY_STORAGE_S3_SECURE"] == "false"  # an http:// endpoint
    assert storage_variables(StorageSettings(driver="s3", bucket="b"))["REGISTRY_STORAGE_S3_REGION"] == "us-east-1"
    assert "REGISTRY_STORAGE_S3_REGIONENDPOINT" not in storage_variables(StorageSettings(driver="s3", bucket="b"))
    assert secret_variables(S3) == {
        "REGISTRY_HTTP_SECRET": "http-secret",
        "REGISTRY_STORAGE_S3_ACCESSKEY": "s3-access-key",
        "REGISTRY_STORAGE_S3_SECRETKEY": "s3-secret-key",
    }
    assert secret_variables(FILESYSTEM) == {"REGISTRY_HTTP_SECRET": "http-secret"}
