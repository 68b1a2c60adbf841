"""Catalog and tag lists (`scripts/status.sh`): paged by `Link`, bounded, checked as read.

A registry that names a next page forever, sends a page too large, pages elsewhere or lists names
that are no repository (`../x`) gets a RegistryError, after a bounded number of requests; the
stubbed transport is the one of tests/test_oci_credentials.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.parse
from pathlib import Path

import pytest

from components.oci import LIST_LIMIT, LIST_PAGE, OCI_MANIFEST, RESPONSE_LIMIT, RegistryError
from tests.test_oci_credentials import BASIC, MANIFEST, Answer, FakeResponse, Handler, Sent, registry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import status  # scripts/ is no package: status.py as scripts/status.sh runs it

HOST = "registry.example.com"


def pages(names: list[str], key: str = "repositories", forever: bool = False) -> tuple[list[Sent], Handler]:
    """A registry listing `names` by pages of `n` after `last`, with a `Link` to the next (always, with `forever`)."""
    seen: list[Sent] = []

    def handle(sent: Sent) -> Answer:
        if sent.headers.get("Authorization") != BASIC:
            return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
        seen.append(sent)
        assert len(seen) <= 2 * LIST_LIMIT // LIST_PAGE, "still paging: the limit did not stop it"
        path, _, query = sent.path.partition("?")
        asked = dict(urllib.parse.parse_qsl(query))
        start = names.index(asked["last"]) + 1 if "last" in asked else 0
        page = names[start : start + int(asked["n"])] if not forever else names[:LIST_PAGE]
        more = forever or start + len(page) < len(names)
        link = {"Link": f'<{path}?last={page[-1] if page else ""}&n={asked["n"]}>; rel="next"'} if more else {}
        return Answer(200, link, json.dumps({key: page}).encode())

    return seen, handle


def test_a_catalog_is_read_page_by_page_as_its_link_says(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"team/app{i:04}" for i in range(2500)]
    seen, handle = pages(names)
    reg, _ = registry(monkeypatch, HOST, {HOST: handle})
    assert reg.catalog() == names
    assert [s.path for s in seen] == [
        f"/v2/_catalog?n={LIST_PAGE}",
        f"/v2/_catalog?last=team/app0999&n={LIST_PAGE}",
        f"/v2/_catalog?last=team/app1999&n={LIST_PAGE}",
    ]


def test_a_registry_paging_forever_is_refused_after_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen, handle = pages([f"team/app{i:04}" for i in range(LIST_PAGE)], forever=True)
    reg, _ = registry(monkeypatch, HOST, {HOST: handle})
    with pytest.raises(RegistryError, match=f"GET /v2/_catalog: more than {LIST_LIMIT} repositories, refused"):
        reg.catalog()
    assert len(seen) == LIST_LIMIT // LIST_PAGE + 1 == 101


def test_an_empty_page_naming_a_next_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    seen, handle = pages([], key="tags", forever=True)
    reg, _ = registry(monkeypatch, HOST, {HOST: handle})
    with pytest.raises(RegistryError, match="tags/list: an empty page that names a next one, refused"):
        reg.tags("team/app")
    assert len(seen) == 1


def test_a_page_too_large_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = json.dumps({"repositories": ["a" * 200] * (RESPONSE_LIMIT // 200)}).encode()
    reg, _ = registry(monkeypatch, HOST, {HOST: lambda _: Answer(200, {}, huge)})
    monkeypatch.setattr(FakeResponse, "unbounded_reads", 0)
    with pytest.raises(RegistryError, match=f"GET /v2/_catalog: more than {RESPONSE_LIMIT} bytes, refused"):
        reg.catalog()
    assert FakeResponse.unbounded_reads == 0


@pytest.mark.parametrize(
    "link",
    [
        '<https://elsewhere.example.net/v2/_catalog?last=a&n=1000>; rel="next"',  # another host
        '</v2/team/app/tags/list?last=a&n=1000>; rel="next"',  # another list
        '<http://registry.example.com/v2/_catalog?last=a&n=1000>; rel="next"',  # not https
    ],
)
def test_a_next_page_elsewhere_is_refused(monkeypatch: pytest.MonkeyPatch, link: str) -> None:
    reg, transport = registry(
        monkeypatch,
        HOST,
        {HOST: lambda _: Answer(200, {"Link": link}, b'{"repositories": ["a"]}'), "elsewhere.example.net": lambda _: Answer(500)},
    )
    with pytest.raises(RegistryError, match=r"GET /v2/_catalog: a next page elsewhere \("):
        reg.catalog()
    assert [s.host for s in transport.sent] == [HOST]


@pytest.mark.parametrize("bad", ["../../v2/other", "Team/App", "a" * 256, 7, None])
def test_names_that_are_no_repository_are_refused_as_read(monkeypatch: pytest.MonkeyPatch, bad: object) -> None:
    reg, _ = registry(monkeypatch, HOST, {HOST: lambda _: Answer(200, {}, json.dumps({"repositories": ["ok", bad]}).encode())})
    with pytest.raises(RegistryError, match="repositories is not a list of valid names"):
        reg.catalog()


def test_status_lists_tags_through_the_bounded_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """`status.sh` asks the catalog and the tags by pages, and refuses a tag that could not be one."""

    def handle(sent: Sent) -> Answer:
        if sent.path.startswith("/v2/_catalog"):
            return Answer(200, {}, b'{"repositories": ["team/app"]}')
        if sent.path.startswith("/v2/team/app/tags/list"):
            assert sent.path == f"/v2/team/app/tags/list?n={LIST_PAGE}"
            return Answer(200, {}, b'{"name": "team/app", "tags": ["1", "../../../x"]}')
        return Answer(200, {"Content-Type": OCI_MANIFEST}, MANIFEST)

    reg, transport = registry(monkeypatch, HOST, {HOST: handle})
    with pytest.raises(RegistryError, match="tags is not a list of valid names"):
        status.catalog(reg, {})
    assert not any("/manifests/" in s.path for s in transport.sent)
    good, _ = registry(
        monkeypatch,
        HOST,
        {HOST: lambda sent: handle(sent) if "tags/list" not in sent.path else Answer(200, {}, b'{"tags": ["1"]}')},
    )
    digest = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
    assert status.catalog(good, {("team/app", "1"): "2026-01-01T00:00:00Z"}) == [
        status.Tag("team/app", "1", digest, 0, 1, "2026-01-01T00:00:00Z")
    ]


def test_status_finds_its_user_without_reading_a_body_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _ = registry(monkeypatch, HOST, {HOST: lambda _: Answer(200, {}, b"x" * (8 << 20))})
    monkeypatch.setattr(status, "Registry", lambda *_, **__: reg)
    monkeypatch.setattr(FakeResponse, "unbounded_reads", 0)
    assert status.client({"endpoint": HOST, "usernames": ["ci"], "passwords": {"ci": "s3cret"}}) is reg
    assert FakeResponse.unbounded_reads == 0
