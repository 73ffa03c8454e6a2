"""Releases: the versions of a service, tracked from its image's tags.

A release is created with its image reference resolved to a digest, and
that digest never changes afterwards: a deploy of the release runs exactly
what was resolved, even if the tag is later moved in the registry. Only
tags that are semantic versions become releases; ``latest`` and the like
are ignored.

``sync_releases`` and ``resolve_release`` call the service's registry.
"""

import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments import imageref, semver
from deployments.models import VERSION_MAX_LENGTH, Release
from deployments.registry_client import client_for
from registry.exceptions import NotFound, RegistryError

logger = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """What one sync did: versions created, releases already known, tags skipped."""

    created: list = field(default_factory=list)
    unchanged: int = 0
    ignored: list = field(default_factory=list)


def image_of(service):
    """The service's image as an ``ImageReference`` without tag.

    Raises ``RegistryError`` (``no_image``) for a service without an image.
    """
    if not service.docker_image:
        raise RegistryError(f"{service} has no docker image", code="no_image")
    try:
        return imageref.parse(service.image_repository)
    except ValueError as exc:
        raise RegistryError(
            f"{service}'s image is not a valid reference: {exc}",
            code="invalid_image",
        )


def _parse_version(version):
    try:
        parsed = semver.parse(version)
    except ValueError as exc:
        raise RegistryError(str(exc), code="invalid_version")
    if len(version) > VERSION_MAX_LENGTH:
        raise RegistryError(
            f"versions are at most {VERSION_MAX_LENGTH} characters",
            code="invalid_version",
        )
    return parsed


def _create(service, version, image="", digest=""):
    """Create the release, or return the one a concurrent call created."""
    try:
        with transaction.atomic():
            release = Release.objects.create(
                service=service, version=version, image=image, digest=digest
            )
    except IntegrityError:
        return Release.objects.get(service=service, version=version), False
    return release, True


def sync_releases(service):
    """Create a release for every semver tag of the service's image.

    Existing releases are left as they are. Calls the registry: one request
    per page of tags and one per new release.
    """
    image = image_of(service)
    client = client_for(image)
    tags = client.list_tags(image.repository)
    known = set(
        Release.objects.filter(service=service).values_list("version", flat=True)
    )

    result = SyncResult()
    for tag in sorted(tags, key=_tag_order):
        if not semver.is_valid(tag) or len(tag) > VERSION_MAX_LENGTH:
            result.ignored.append(tag)
            continue
        if tag in known:
            result.unchanged += 1
            continue
        digest = client.resolve_digest(image.repository, tag)
        _, created = _create(service, tag, str(image.with_tag(tag)), digest)
        if created:
            result.created.append(tag)
        else:
            result.unchanged += 1

    logger.info(
        "releases of %s synced: %d created, %d unchanged, %d tags ignored",
        service.slug,
        len(result.created),
        result.unchanged,
        len(result.ignored),
        extra={"service": service.slug},
    )
    return result


def _tag_order(tag):
    # Oldest first, so releases are created in version order; others last.
    try:
        return (0, semver.sort_key(tag))
    except ValueError:
        return (1, tag)


def resolve_release(service, version_or_digest):
    """The release a deploy names, by version or by ``algorithm:hex`` digest.

    A digest must belong to a known release (404 ``release_not_found``). A
    version that is not yet a release becomes one: for a service with an
    image the tag is resolved to its digest in the registry (404
    ``image_not_found`` when the tag is missing); without an image the
    release has no digest. May call the registry.
    """
    text = (version_or_digest or "").strip()
    if ":" in text:
        return _release_by_digest(service, text)

    _parse_version(text)
    existing = Release.objects.filter(service=service, version=text).first()
    if existing is not None:
        return existing
    if not service.docker_image:
        return _create(service, text)[0]

    image = image_of(service)
    digest = client_for(image).resolve_digest(image.repository, text)
    return _create(service, text, str(image.with_tag(text)), digest)[0]


def find_release(service, version):
    """The release of ``version`` if it is recorded; asks no registry."""
    return Release.objects.filter(service=service, version=version).first()


def record_release(service, version):
    """The release of ``version``, recorded without a digest if it is new.

    For deployments that run no image (the process backend): asks no
    registry, so it works where none is reachable.
    """
    _parse_version(version)
    return find_release(service, version) or _create(service, version)[0]


def _release_by_digest(service, digest):
    try:
        imageref.check_digest(digest)
    except ValueError as exc:
        raise RegistryError(str(exc), code="invalid_digest")
    release = (
        Release.objects.filter(service=service, digest=digest)
        .order_by("created_at", "pk")
        .first()
    )
    if release is None:
        raise NotFound(
            f"{service} has no release with digest {digest}",
            code="release_not_found",
        )
    return release


def release_sort_key(release):
    """Semver precedence; releases whose version is not semver sort lowest."""
    try:
        return (1, semver.sort_key(release.version), release.created_at)
    except ValueError:
        return (0, (), release.created_at)


def releases_newest_first(service):
    """The service's releases, highest semantic version first (a list)."""
    releases = Release.objects.filter(service=service)
    return sorted(releases, key=release_sort_key, reverse=True)


def mark_bad(release, reason):
    """Mark a release bad so it is not deployed again without an override.

    Marking an already bad release replaces the reason and keeps the time it
    was first marked.
    """
    release.bad_reason = reason
    if not release.is_bad:
        release.is_bad = True
        release.marked_bad_at = timezone.now()
    release.save(update_fields=["is_bad", "bad_reason", "marked_bad_at", "updated_at"])
    logger.warning(
        "release %s %s marked bad: %s",
        release.service_id,
        release.version,
        reason,
        extra={"release": release.pk},
    )
    return release


def clear_bad(release):
    release.is_bad = False
    release.bad_reason = ""
    release.marked_bad_at = None
    release.save(update_fields=["is_bad", "bad_reason", "marked_bad_at", "updated_at"])
    return release


def check_not_bad(release, *, override=False):
    """Refuse (400 ``bad_release``) a bad release unless the caller overrides."""
    if release.is_bad and not override:
        raise RegistryError(
            f"{release.service} {release.version} is marked bad "
            f"({release.bad_reason}); deploy it again only with an explicit override",
            code="bad_release",
            details={"version": release.version},
        )
