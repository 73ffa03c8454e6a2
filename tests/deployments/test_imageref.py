"""Docker image references, including registries on a non-default port."""

import pytest

from deployments import imageref
from deployments.imageref import ImageReference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("127.0.0.1:5000/team/app:1.2.0", "127.0.0.1:5000", "team/app", "1.2.0", ""),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", "", ""),
        ("app:1.2", "docker.io", "library/app", "1.2", ""),
        ("app", "docker.io", "library/app", "", ""),
        ("team/app:2", "docker.io", "team/app", "2", ""),
        ("docker.io/app", "docker.io", "library/app", "", ""),
        ("index.docker.io/team/app", "docker.io", "team/app", "", ""),
        ("localhost:5000/app", "localhost:5000", "app", "", ""),
        ("localhost/app:x", "localhost", "app", "x", ""),
        ("registry.example.com/a/b/c:v1", "registry.example.com", "a/b/c", "v1", ""),
        ("Registry/app", "Registry", "app", "", ""),
        (f"repo@{DIGEST}", "docker.io", "library/repo", "", DIGEST),
        (
            f"127.0.0.1:5000/team/app:1.2.0@{DIGEST}",
            "127.0.0.1:5000",
            "team/app",
            "1.2.0",
            DIGEST,
        ),
        (f"localhost:5000/app@{DIGEST}", "localhost:5000", "app", "", DIGEST),
        ("[::1]:5000/team/app:1.0.0", "[::1]:5000", "team/app", "1.0.0", ""),
        (
            "my-reg.io:443/a_b/c__d/e-f.g:T_1.x-y",
            "my-reg.io:443",
            "a_b/c__d/e-f.g",
            "T_1.x-y",
            "",
        ),
    ],
)
def test_parse_splits_registry_repository_tag_and_digest(
    text, registry, repository, tag, digest
):
    assert imageref.parse(text) == ImageReference(registry, repository, tag, digest)


def test_registry_port_is_not_taken_for_a_tag():
    reference = imageref.parse("127.0.0.1:5000/app")

    assert reference.registry == "127.0.0.1:5000"
    assert reference.tag == ""


def test_a_bare_host_and_port_is_a_docker_hub_name_with_a_tag():
    # Without a slash there is no registry part, as in the docker CLI.
    assert imageref.parse("localhost:5000") == ImageReference(
        "docker.io", "library/localhost", "5000"
    )


def test_str_is_the_fully_qualified_reference():
    assert str(imageref.parse("app:1.2")) == "docker.io/library/app:1.2"
    text = f"127.0.0.1:5000/team/app:1.2.0@{DIGEST}"
    assert str(imageref.parse(text)) == text


def test_pinned_replaces_tag_and_digest_with_the_given_digest():
    reference = imageref.parse("127.0.0.1:5000/team/app:1.2.0")
    other = "sha256:" + "cd" * 32

    assert str(reference.pinned(DIGEST)) == f"127.0.0.1:5000/team/app@{DIGEST}"
    assert str(reference.pinned(DIGEST).with_tag("2.0.0")) == (
        "127.0.0.1:5000/team/app:2.0.0"
    )
    assert str(imageref.parse(f"app@{DIGEST}").pinned(other)) == (
        f"docker.io/library/app@{other}"
    )


def test_pinned_refuses_a_malformed_digest():
    with pytest.raises(ValueError, match="64 hex digits"):
        imageref.parse("app").pinned("sha256:abc123" + "0" * 30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" app", "spaces"),
        ("127.0.0.1:5000/", "no repository"),
        ("127.0.0.1:5000/Team/app", "not a valid repository component"),
        ("team//app", "not a valid repository component"),
        ("team/app-", "not a valid repository component"),
        ("team/app___x", "not a valid repository component"),
        ("app:", "invalid tag"),
        ("app:-x", "invalid tag"),
        ("app:" + "x" * 129, "invalid tag"),
        ("app@sha256:abc", "digest"),
        ("app@md5", "digest"),
        ("127.0.0.1:99999/app", "invalid port"),
        ("127.0.0.1:/app", "port"),
        ("bad_host.io/app", "not a host name"),
        ("[zz]:5000/app", "IPv6"),
        ("a." + "b" * 260 + "/app", "over 255"),
    ],
)
def test_invalid_references_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        imageref.parse(text)


def test_is_digest_accepts_other_algorithms_with_enough_hex():
    assert imageref.is_digest("sha512:" + "0" * 128)
    assert not imageref.is_digest("sha256:" + "0" * 63)
    assert not imageref.is_digest("1.2.0")
