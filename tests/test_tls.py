"""Unit tests: the pure parts of the TLS component."""

from components.model import Subject
from components.tls import ca_subject_for, private_key_inputs, subject_inputs


def test_ecdsa_curve_is_always_explicit() -> None:
    assert private_key_inputs("ECDSA", 4096, "P384") == {"algorithm": "ECDSA", "ecdsa_curve": "P384"}
    assert private_key_inputs("RSA", 3072, "P256") == {"algorithm": "RSA", "rsa_bits": 3072}


def test_subject_leaves_out_empty_fields() -> None:
    assert subject_inputs(Subject(common_name="r.example", organization="Org")) == {
        "common_name": "r.example",
        "organization": "Org",
    }


def test_ca_subject_differs_from_the_server_subject() -> None:
    server = Subject(common_name="localhost", organization="Org", country="DE")
    ca = ca_subject_for(server, "dev")
    assert ca.common_name != server.common_name and ca.organization == "Org" and ca.country == "DE"
    assert len(ca_subject_for(Subject(common_name="x"), "s" * 80).common_name) <= 64
