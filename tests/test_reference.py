"""Image references are expanded and parsed exactly as linuxkit does."""

from __future__ import annotations

import pytest

from lkpolicy.model.reference import ReferenceError, expand, parse


@pytest.mark.parametrize(
    ("written", "expanded"),
    [
        ("busybox:latest", "docker.io/library/busybox:latest"),
        ("busybox", "docker.io/library/busybox"),
        ("linuxkit/init:abc", "docker.io/linuxkit/init:abc"),
        ("localhost:5000/x", "localhost:5000/x"),
        ("localhost/x", "localhost/x"),
        ("my.reg/x", "my.reg/x"),
        ("foo/bar/baz:1", "foo/bar/baz:1"),
        ("lktest/x", "docker.io/lktest/x"),
    ],
)
def test_expansion(written: str, expanded: str) -> None:
    assert expand(written) == expanded
    assert parse(written).expanded == expanded


def test_tag_and_digest_split() -> None:
    digest = "sha256:" + "a" * 64
    ref = parse(f"linuxkit/init:v1@{digest}")
    assert (ref.locator, ref.tag, ref.digest) == ("docker.io/linuxkit/init", "v1", digest)
    assert ref.expanded == f"docker.io/linuxkit/init:v1@{digest}"
    assert ref.pinned and ref.name == "docker.io/linuxkit/init:v1"
    assert ref.registry == "docker.io" and ref.repository == "linuxkit/init"
    only_digest = parse(f"alpine@{digest}")
    assert (only_digest.tag, only_digest.digest) == (None, digest)
    assert only_digest.expanded == f"docker.io/library/alpine@{digest}"


def test_registry_with_port() -> None:
    ref = parse("127.0.0.1:5000/team/app:1.0")
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "team/app", "1.0")


def test_with_digest_keeps_the_written_name() -> None:
    digest = "sha256:" + "b" * 64
    assert parse("linuxkit/init:v1").with_digest(digest) == f"linuxkit/init:v1@{digest}"
    assert parse(f"linuxkit/init:v1@sha256:{'c' * 64}").with_digest(digest) == f"linuxkit/init:v1@{digest}"


def test_template_reference_fails_like_linuxkit() -> None:
    with pytest.raises(ReferenceError) as caught:
        parse("@pkg:./pkg/init")
    assert str(caught.value) == 'parse "dummy://@pkg:./pkg/init": invalid port ":." after host'


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("a://b", "invalid reference"),
        ("/x/y/z", "hostname required"),
        ("reg:abc/x/y", 'invalid port ":abc" after host'),
        ("reg/%zz/y", 'invalid URL escape "%zz"'),
        ("re g/x/y", 'invalid character " " in host name'),
        # Go quotes with strconv.Quote: a control character is escaped (observed with linuxkit).
        ("alp\x01ine:3.19",
         'parse "dummy://docker.io/library/alp\\x01ine:3.19": '
         "net/url: invalid control character in URL"),
    ],
)
def test_parse_errors(written: str, message: str) -> None:
    with pytest.raises(ReferenceError) as caught:
        parse(written)
    assert message in str(caught.value)


def test_permissive_parse_and_registry_problems() -> None:
    ref = parse("Foo Bar")
    assert ref.expanded == "docker.io/library/Foo Bar"
    assert ref.registry_problems()
    assert parse("UPPER/case:1").registry_problems() == ["repository names must be lower case"]
    assert parse("linuxkit/init:v1").registry_problems() == []
    assert parse("x:bad tag").registry_problems() == ["`bad tag` is not a valid tag"]
