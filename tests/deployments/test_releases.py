"""Releases tracked from image tags in the real local registry.

Images are built from a root filesystem holding Debian's static busybox,
imported into the local Docker engine and pushed to the registry on
127.0.0.1:5000. Registry behaviour that registry does not show (paginated
tag lists, missing digest headers, authentication) is checked against a
small stand-in served on loopback.
"""

import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from deployments import releases, tasks
from deployments.models import Release
from deployments.registry_client import (
    ImageNotFound,
    RegistryClient,
    RegistryUnreachable,
)
from registry.exceptions import RegistryError
from services.models import Service

BUSYBOX = Path("/usr/bin/busybox")
SEMVER_TAGS = ["1.9.0", "1.10.0", "1.0.0-rc.1", "1.0.0"]
OTHER_TAGS = ["latest", "v2.0.0"]
NEWEST_FIRST = ["1.10.0", "1.9.0", "1.0.0", "1.0.0-rc.1"]


def _root_filesystem(version):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        folder = tarfile.TarInfo("bin")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        data = BUSYBOX.read_bytes()
        binary = tarfile.TarInfo("bin/busybox")
        binary.size, binary.mode = len(data), 0o755
        archive.addfile(binary, io.BytesIO(data))
        marker = f"{version}\n".encode()
        info = tarfile.TarInfo("version")
        info.size = len(marker)
        archive.addfile(info, io.BytesIO(marker))
    return buffer.getvalue()


def _push(client, repository, tag):
    """Push and return the digest the engine reports for the push."""
    digest = ""
    for event in client.images.push(repository, tag=tag, stream=True, decode=True):
        if "error" in event:
            raise RuntimeError(f"pushing {repository}:{tag}: {event['error']}")
        digest = event.get("aux", {}).get("Digest", digest)
    assert digest.startswith("sha256:")
    return digest


@pytest.fixture(scope="session")
def published(docker_client, local_registry):
    """A fresh repository with semver tags, ``latest`` and ``v2.0.0``.

    Returns the repository path under the registry and the pushed digests.
    """
    if not BUSYBOX.exists():
        pytest.fail("Debian's busybox-static is not installed at /usr/bin/busybox")
    name = f"tests-rel/app-{uuid.uuid4().hex[:8]}"
    repository = f"{local_registry}/{name}"
    digests = {}
    for tag in SEMVER_TAGS + ["v2.0.0"]:
        docker_client.api.import_image_from_data(
            _root_filesystem(tag), repository=repository, tag=tag
        )
        digests[tag] = _push(docker_client, repository, tag)
    # latest is the newest release under a second name.
    docker_client.api.tag(f"{repository}:1.10.0", repository, "latest")
    digests["latest"] = _push(docker_client, repository, "latest")
    for tag in digests:
        docker_client.images.remove(f"{repository}:{tag}", force=True)
    return name, digests


def _service(slug, registry="", image=""):
    return Service.objects.create(
        slug=slug, name=slug, docker_registry=registry, docker_image=image, port=8080
    )


@pytest.fixture
def service(db, published, local_registry):
    name = published[0]
    namespace, image = name.split("/")
    return _service("rel-app", f"{local_registry}/{namespace}", image)


@pytest.fixture
def digests(published):
    return published[1]


@pytest.mark.django_db
def test_sync_creates_exactly_the_semver_tags_with_registry_digests(
    service, digests, local_registry, published
):
    result = releases.sync_releases(service)

    assert sorted(result.created) == sorted(SEMVER_TAGS)
    assert result.unchanged == 0
    assert sorted(result.ignored) == sorted(OTHER_TAGS)
    rows = {r.version: r for r in Release.objects.filter(service=service)}
    assert set(rows) == set(SEMVER_TAGS)
    for version, release in rows.items():
        assert release.digest == digests[version]
        assert release.image == f"{local_registry}/{published[0]}:{version}"
        assert release.pinned_image == (
            f"{local_registry}/{published[0]}@{digests[version]}"
        )


@pytest.mark.django_db
def test_second_sync_creates_nothing(service):
    releases.sync_releases(service)
    first = list(Release.objects.filter(service=service).values("pk", "digest"))

    result = releases.sync_releases(service)

    assert result.created == []
    assert result.unchanged == len(SEMVER_TAGS)
    assert list(Release.objects.filter(service=service).values("pk", "digest")) == (
        first
    )


@pytest.mark.django_db
def test_releases_are_listed_newest_first_by_semver(service):
    releases.sync_releases(service)

    ordered = releases.releases_newest_first(service)

    assert [r.version for r in ordered] == NEWEST_FIRST


@pytest.mark.django_db
def test_releases_whose_version_is_not_semver_sort_last(service):
    releases.sync_releases(service)
    Release.objects.create(service=service, version="nightly")

    ordered = releases.releases_newest_first(service)

    assert [r.version for r in ordered] == NEWEST_FIRST + ["nightly"]


@pytest.mark.django_db
def test_resolve_release_by_version_creates_it_with_its_digest(service, digests):
    release = releases.resolve_release(service, "1.10.0")

    assert release.digest == digests["1.10.0"]
    assert releases.resolve_release(service, "1.10.0").pk == release.pk
    assert Release.objects.filter(service=service).count() == 1


@pytest.mark.django_db
def test_resolve_release_by_digest_finds_the_synced_release(service, digests):
    releases.sync_releases(service)

    release = releases.resolve_release(service, digests["1.0.0-rc.1"])

    assert release.version == "1.0.0-rc.1"


@pytest.mark.django_db
def test_resolve_release_by_unknown_digest_is_not_found(service):
    releases.sync_releases(service)

    with pytest.raises(RegistryError) as info:
        releases.resolve_release(service, "sha256:" + "0" * 64)

    assert (info.value.code, info.value.status_code) == ("release_not_found", 404)


@pytest.mark.django_db
def test_resolve_release_of_a_missing_tag_fails_and_records_nothing(service):
    with pytest.raises(ImageNotFound) as info:
        releases.resolve_release(service, "3.0.0")

    assert (info.value.code, info.value.status_code) == ("image_not_found", 404)
    assert not Release.objects.filter(service=service).exists()


@pytest.mark.django_db
def test_resolve_release_without_an_image_creates_one_without_digest():
    service = _service("rel-process")

    release = releases.resolve_release(service, "0.3.0-beta.1")

    assert (release.version, release.image, release.digest) == (
        "0.3.0-beta.1",
        "",
        "",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("v1.0.0", "invalid_version"),
        ("", "invalid_version"),
        ("sha256:1", "invalid_digest"),
    ],
)
def test_resolve_release_refuses_malformed_input(text, code):
    service = _service("rel-bad-input")

    with pytest.raises(RegistryError) as info:
        releases.resolve_release(service, text)

    assert info.value.code == code
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_sync_of_a_service_without_image_is_refused():
    with pytest.raises(RegistryError) as info:
        releases.sync_releases(_service("rel-no-image"))

    assert info.value.code == "no_image"


@pytest.mark.django_db
def test_docker_hub_images_are_refused_without_contacting_anyone():
    service = _service("rel-hub", image="team/app")

    with pytest.raises(RegistryError) as info:
        releases.sync_releases(service)

    assert info.value.code == "registry_unsupported"


def test_client_uses_https_for_registries_not_listed_as_insecure(settings):
    settings.MECH = {**settings.MECH, "INSECURE_REGISTRIES": ["127.0.0.1:5000"]}

    assert RegistryClient("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert RegistryClient("localhost:5000").base_url == "https://localhost:5000"


def test_client_sees_existing_and_missing_tags(published, local_registry):
    name, digests = published
    client = RegistryClient(local_registry)

    assert client.exists(name, "1.0.0")
    assert client.exists(name, digests["1.9.0"])
    assert not client.exists(name, "9.9.9")
    assert client.resolve_digest(name, "latest") == digests["1.10.0"]
    with pytest.raises(ImageNotFound):
        client.list_tags("tests-rel/never-pushed")


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_registry_raises_registry_unreachable(settings):
    registry = f"127.0.0.1:{_closed_port()}"
    settings.MECH = {**settings.MECH, "INSECURE_REGISTRIES": [registry]}

    with pytest.raises(RegistryUnreachable) as info:
        RegistryClient(registry, timeout=2).list_tags("team/app")

    assert (info.value.code, info.value.status_code) == ("registry_unreachable", 502)


class StandIn(http.server.BaseHTTPRequestHandler):
    """Answers from ``routes``: path with query → (status, headers, body)."""

    routes = {}
    seen = []

    def _answer(self, with_body):
        self.seen.append((self.command, self.path, self.headers.get("Accept")))
        status, headers, body = self.routes.get(self.path, (404, {}, b"{}"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in(settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    StandIn.routes, StandIn.seen = {}, []
    registry = f"127.0.0.1:{server.server_address[1]}"
    settings.MECH = {**settings.MECH, "INSECURE_REGISTRIES": [registry]}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield registry
    server.shutdown()
    server.server_close()


def _tags_page(tags, next_url=None):
    headers = {"Content-Type": "application/json"}
    if next_url:
        headers["Link"] = f'<{next_url}>; rel="next"'
    return 200, headers, json.dumps({"name": "team/app", "tags": tags}).encode()


def test_list_tags_follows_link_pagination(stand_in):
    StandIn.routes = {
        "/v2/team/app/tags/list?n=100": _tags_page(
            ["1.0.0", "1.1.0"], "/v2/team/app/tags/list?last=1.1.0&n=100"
        ),
        "/v2/team/app/tags/list?last=1.1.0&n=100": _tags_page(
            ["2.0.0"], f"http://{stand_in}/v2/team/app/tags/list?last=2.0.0&n=100"
        ),
        "/v2/team/app/tags/list?last=2.0.0&n=100": _tags_page(["latest"]),
    }

    tags = RegistryClient(stand_in).list_tags("team/app")

    assert tags == ["1.0.0", "1.1.0", "2.0.0", "latest"]


def test_list_tags_refuses_a_next_page_on_another_host(stand_in):
    StandIn.routes = {
        "/v2/team/app/tags/list?n=100": _tags_page(
            ["1.0.0"], "http://127.0.0.2:1/v2/team/app/tags/list?last=1.0.0"
        ),
    }

    with pytest.raises(RegistryUnreachable, match="another host"):
        RegistryClient(stand_in).list_tags("team/app")


def test_resolve_digest_asks_for_index_and_manifest_types(stand_in):
    digest = "sha256:" + "12" * 32
    StandIn.routes = {
        "/v2/team/app/manifests/1.0.0": (200, {"Docker-Content-Digest": digest}, b"")
    }

    assert RegistryClient(stand_in).resolve_digest("team/app", "1.0.0") == digest
    accept = StandIn.seen[0][2]
    assert StandIn.seen[0][0] == "HEAD"
    assert "application/vnd.oci.image.index.v1+json" in accept
    assert "application/vnd.docker.distribution.manifest.v2+json" in accept
    assert "application/vnd.docker.distribution.manifest.list.v2+json" in accept


def test_resolve_digest_hashes_the_manifest_when_no_digest_header(stand_in):
    manifest = b'{"schemaVersion": 2}'
    StandIn.routes = {"/v2/team/app/manifests/1.0.0": (200, {}, manifest)}

    digest = RegistryClient(stand_in).resolve_digest("team/app", "1.0.0")

    assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert [method for method, _, _ in StandIn.seen] == ["HEAD", "GET"]


@pytest.mark.parametrize(
    ("status", "code"), [(401, "registry_auth_required"), (500, "registry_unreachable")]
)
def test_registry_errors_map_to_codes(stand_in, status, code):
    StandIn.routes = {"/v2/team/app/tags/list?n=100": (status, {}, b"{}")}

    with pytest.raises(RegistryError) as info:
        RegistryClient(stand_in).list_tags("team/app")

    assert info.value.code == code


def test_malformed_tag_list_is_an_error(stand_in):
    StandIn.routes = {"/v2/team/app/tags/list?n=100": (200, {}, b"[1, 2]")}

    with pytest.raises(RegistryUnreachable, match="malformed"):
        RegistryClient(stand_in).list_tags("team/app")


@pytest.mark.django_db
def test_mark_bad_records_reason_and_keeps_first_time():
    release = Release.objects.create(service=_service("rel-bad"), version="1.0.0")

    releases.mark_bad(release, "health gate failed")
    first_time = release.marked_bad_at
    releases.mark_bad(release, "failed again")
    release.refresh_from_db()

    assert (release.is_bad, release.bad_reason) == (True, "failed again")
    assert release.marked_bad_at == first_time is not None


@pytest.mark.django_db
def test_bad_release_is_refused_unless_overridden_and_clear_bad_allows_it():
    release = Release.objects.create(service=_service("rel-bad2"), version="1.0.0")
    releases.mark_bad(release, "health gate failed")

    with pytest.raises(RegistryError) as info:
        releases.check_not_bad(release)
    releases.check_not_bad(release, override=True)
    releases.clear_bad(release)
    release.refresh_from_db()

    assert (info.value.code, info.value.status_code) == ("bad_release", 400)
    assert (release.is_bad, release.bad_reason, release.marked_bad_at) == (
        False,
        "",
        None,
    )
    releases.check_not_bad(release)


@pytest.mark.django_db
def test_sync_task_creates_releases(service):
    tasks.sync_releases_task(service.pk)

    assert Release.objects.filter(service=service).count() == len(SEMVER_TAGS)


@pytest.mark.django_db
def test_sync_task_survives_an_unreachable_registry(settings):
    registry = f"127.0.0.1:{_closed_port()}"
    settings.MECH = {**settings.MECH, "INSECURE_REGISTRIES": [registry]}
    service = _service("rel-down", registry, "app")

    tasks.sync_releases_task(service.pk)

    assert not Release.objects.filter(service=service).exists()


@pytest.mark.django_db
def test_sync_all_queues_only_services_with_an_image(monkeypatch):
    with_image = _service("rel-img", "127.0.0.1:5000", "a")
    _service("rel-noimg")
    queued = []
    monkeypatch.setattr(tasks.sync_releases_task, "delay", queued.append)

    tasks.sync_all_releases_task()

    assert queued == [with_image.pk]


@pytest.mark.django_db
def test_api_lists_releases_newest_first_in_camel_case(api, service, digests):
    releases.sync_releases(service)
    releases.mark_bad(Release.objects.get(service=service, version="1.9.0"), "oops")
    url = reverse("service-releases", args=[service.slug])

    response = api.get(url, {"pageSize": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(SEMVER_TAGS)
    assert [r["version"] for r in body["results"]] == NEWEST_FIRST[:3]
    first = body["results"][0]
    assert set(first) == {
        "version",
        "image",
        "digest",
        "gitCommit",
        "isBad",
        "badReason",
        "createdAt",
    }
    assert first["digest"] == digests["1.10.0"]
    assert (body["results"][1]["isBad"], body["results"][1]["badReason"]) == (
        True,
        "oops",
    )
    second = api.get(url, {"pageSize": 3, "page": 2}).json()
    assert [r["version"] for r in second["results"]] == NEWEST_FIRST[3:]


@pytest.mark.django_db
def test_api_sync_answers_with_counts(api, service):
    url = reverse("service-releases-sync", args=[service.slug])

    first = api.post(url)
    second = api.post(url)

    assert first.status_code == 200
    assert first.json()["created"] == len(SEMVER_TAGS)
    assert sorted(first.json()["ignoredTags"]) == sorted(OTHER_TAGS)
    assert second.status_code == 200
    assert {k: v for k, v in second.json().items() if k != "ignoredTags"} == {
        "created": 0,
        "unchanged": len(SEMVER_TAGS),
        "ignored": len(OTHER_TAGS),
        "createdVersions": [],
    }


@pytest.mark.django_db
def test_api_sync_reports_an_unreachable_registry_as_502(api, settings):
    registry = f"127.0.0.1:{_closed_port()}"
    settings.MECH = {**settings.MECH, "INSECURE_REGISTRIES": [registry]}
    service = _service("rel-api-down", registry, "app")

    response = api.post(reverse("service-releases-sync", args=[service.slug]))

    assert response.status_code == 502
    assert response.json()["code"] == "registry_unreachable"
    assert not Release.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["service-releases", "service-releases-sync"])
def test_api_unknown_service_is_not_found(api, name):
    url = reverse(name, args=["no-such-service"])

    response = api.post(url) if name.endswith("sync") else api.get(url)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_api_releases_need_authentication(anonymous):
    service = _service("rel-anon")

    response = anonymous.get(reverse("service-releases", args=[service.slug]))

    assert response.status_code in (401, 403)
