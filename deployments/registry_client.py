"""A small client for the Docker Registry HTTP API v2.

It lists a repository's tags and resolves a tag to the digest of the
manifest the registry serves for it, which is what a release pins. Hosts in
``MECH["INSECURE_REGISTRIES"]`` are spoken to over plain http, every other
one over https. Proxy variables are ignored: registries are reached
directly.

Every method makes network calls; none of them retries.
"""

import hashlib
import logging
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from deployments.imageref import DEFAULT_REGISTRY
from registry.exceptions import NotFound, RegistryError

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = (3.05, 15)
TAGS_PAGE_SIZE = 100
# A registry that keeps answering with a next page is cut off here.
MAX_TAG_PAGES = 100

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


class RegistryUnreachable(RegistryError):
    status_code = 502
    code = "registry_unreachable"


class ImageNotFound(NotFound):
    code = "image_not_found"


def is_insecure(registry):
    return registry in settings.MECH["INSECURE_REGISTRIES"]


class RegistryClient:
    """Talks to one registry, named as in an image reference (host[:port])."""

    def __init__(self, registry, *, session=None, timeout=REQUEST_TIMEOUT):
        if registry == DEFAULT_REGISTRY:
            # Known limitation: Docker Hub is not supported for release
            # tracking, because its API host differs from docker.io and every
            # request there needs a bearer token; name the registry instead.
            raise RegistryError(
                "releases are tracked only for images on a named registry; "
                "set docker.registry in the service definition",
                code="registry_unsupported",
            )
        self.registry = registry
        scheme = "http" if is_insecure(registry) else "https"
        self.base_url = f"{scheme}://{registry}"
        self.timeout = timeout
        if session is None:
            session = requests.Session()
            session.trust_env = False
        self.session = session

    def list_tags(self, repository):
        """Every tag of ``repository``, following ``Link`` pagination."""
        url = f"{self.base_url}/v2/{repository}/tags/list?n={TAGS_PAGE_SIZE}"
        tags = []
        for _ in range(MAX_TAG_PAGES):
            response = self._request("GET", url, repository)
            body = self._json(response, url)
            tags.extend(body.get("tags") or [])
            url = self._next_page(response)
            if url is None:
                return tags
        raise RegistryUnreachable(
            f"{self.registry} returned more than {MAX_TAG_PAGES} pages of tags "
            f"for {repository}; giving up",
        )

    def resolve_digest(self, repository, reference):
        """The digest of the manifest served for a tag (or digest).

        Falls back to hashing the manifest body when a registry leaves out
        ``Docker-Content-Digest`` on ``HEAD``.
        """
        url = f"{self.base_url}/v2/{repository}/manifests/{reference}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = self._request("HEAD", url, repository, reference, headers)
        digest = response.headers.get("Docker-Content-Digest", "")
        if digest:
            return digest
        response = self._request("GET", url, repository, reference, headers)
        return "sha256:" + hashlib.sha256(response.content).hexdigest()

    def exists(self, repository, reference):
        """True when the registry has a manifest for this tag or digest."""
        try:
            self.resolve_digest(repository, reference)
        except ImageNotFound:
            return False
        return True

    def _request(self, method, url, repository, reference="", headers=None):
        try:
            response = self.session.request(
                method, url, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            logger.debug("registry %s unreachable: %s", self.registry, exc)
            raise RegistryUnreachable(
                f"cannot reach the registry {self.registry}: {exc.__class__.__name__}",
                details={"registry": self.registry},
            )
        if response.status_code == 404:
            shown = f"{repository}:{reference}" if reference else repository
            raise ImageNotFound(
                f"{self.registry} has no image {shown}",
                details={"registry": self.registry},
            )
        if response.status_code == 401:
            # Known limitation: bearer-token and basic authentication are not
            # implemented; a registry that asks for either is refused here.
            raise RegistryError(
                f"the registry {self.registry} requires authentication, which "
                "is not supported",
                code="registry_auth_required",
            )
        if response.status_code >= 400:
            raise RegistryUnreachable(
                f"the registry {self.registry} answered {response.status_code} "
                f"to {method} {urlsplit(url).path}",
                details={"registry": self.registry},
            )
        return response

    def _json(self, response, url):
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RegistryUnreachable(
                f"the registry {self.registry} sent a malformed answer to "
                f"{urlsplit(url).path}"
            )
        return body

    def _next_page(self, response):
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        url = urljoin(response.url, link)
        # A next page on another host is not followed: that host was not
        # configured by anyone.
        if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise RegistryUnreachable(
                f"the registry {self.registry} pointed the next page of tags "
                "at another host"
            )
        return url


def client_for(reference):
    """A client for the registry of an ``ImageReference``."""
    return RegistryClient(reference.registry)
