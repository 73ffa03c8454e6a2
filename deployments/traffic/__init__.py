"""Where a service's traffic goes, and how much of it each instance gets.

Strategies move traffic through a router: ``set_upstreams`` names the
instances serving a service in an environment with a percent each (one
address at 100 for a plain switch, two for a canary), ``remove`` takes the
service off the proxy, and ``upstream_stats`` counts the requests and 5xx
answers each address has served since a log offset, so a canary can be
judged on its error rate.

The router is the registry's own nginx (``deployments.traffic.nginx``) when
``MECH["NGINX_LISTEN"]`` is set. Without it every call is a no-op and
``enabled_for`` answers False, so the process backend runs with no proxy
at all and "switching" is simply the registry recording the new address.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings

MAX_WEIGHT = 100
MAX_PORT = 65535

_ADDRESS = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r":(?P<port>[0-9]{1,5})$"
)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}$")


class TrafficError(Exception):
    """The proxy refused a change; the previous configuration still serves."""


@dataclass
class AddressStats:
    requests: int = 0
    errors: int = 0


@dataclass
class UpstreamStats:
    """Requests and 5xx answers per address, and the offset to read from next."""

    addresses: dict = field(default_factory=dict)
    offset: int = 0

    def for_address(self, address):
        return self.addresses.get(address, AddressStats())


class Router:
    """What every router offers; ``NullRouter`` and ``NginxRouter`` implement it."""

    def enabled_for(self, service):
        raise NotImplementedError

    def set_upstreams(self, service, environment, weighted_addresses):
        raise NotImplementedError

    def remove(self, service, environment):
        raise NotImplementedError

    def upstream_stats(self, service, environment, since_offset=0):
        raise NotImplementedError

    def log_offset(self, service, environment):
        raise NotImplementedError

    def hostnames(self, service, environment):
        """The hostnames the proxy serves the service under in ``environment``."""
        raise NotImplementedError


class NullRouter(Router):
    """Used when no proxy is configured: traffic goes straight to instances."""

    def enabled_for(self, service):
        return False

    def set_upstreams(self, service, environment, weighted_addresses):
        normalize_upstreams(weighted_addresses)

    def remove(self, service, environment):
        return None

    def upstream_stats(self, service, environment, since_offset=0):
        return UpstreamStats(offset=since_offset)

    def log_offset(self, service, environment):
        return 0

    def hostnames(self, service, environment):
        return []


def get_router():
    """The router the settings select; building one does no I/O."""
    if not settings.MECH.get("NGINX_LISTEN"):
        return NullRouter()
    from deployments.traffic.nginx import NginxRouter

    return NginxRouter.from_settings()


def wants_proxy(service):
    """True when the service asks for nginx and names at least one domain."""
    return bool(service.nginx_enabled and service.domains)


def enabled_for(service):
    return get_router().enabled_for(service)


def set_upstreams(service, environment, weighted_addresses):
    """Send the service's traffic in ``environment`` to these addresses.

    ``weighted_addresses`` is a list of ``("host:port", percent)``. With nginx
    this writes files, runs ``nginx -t`` and reloads, and returns once the
    old nginx workers have drained (bounded by ``NGINX_RELOAD_TIMEOUT``).
    """
    get_router().set_upstreams(service, environment, weighted_addresses)


def remove(service, environment):
    get_router().remove(service, environment)


def upstream_stats(service, environment, since_offset=0):
    """Per-address counts from the access log after ``since_offset``; reads a file."""
    return get_router().upstream_stats(service, environment, since_offset)


def log_offset(service, environment):
    """Where the access log ends now: pass it later to ``upstream_stats``."""
    return get_router().log_offset(service, environment)


def upstream_errors(service, environment, address, since_offset):
    """``(requests, errors)`` one address served after ``since_offset``."""
    stats = upstream_stats(service, environment, since_offset)
    counts = stats.for_address(address)
    return counts.requests, counts.errors


def environment_name(environment):
    """Accept an ``Environment`` or its name."""
    return getattr(environment, "name", environment)


def normalize_upstreams(weighted_addresses):
    """Validated ``[(address, weight)]`` with zero weights left out.

    Addresses are ``host:port`` (an IPv6 host in brackets) and weights whole
    percents; anything else is refused here, before it can reach a config
    file.
    """
    upstreams = []
    seen = set()
    for address, weight in weighted_addresses:
        check_address(address)
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise ValueError(f"weight for {address} must be a whole number")
        if not 0 <= weight <= MAX_WEIGHT:
            raise ValueError(f"weight for {address} must be 0 to {MAX_WEIGHT}")
        if address in seen:
            raise ValueError(f"{address} is listed twice")
        seen.add(address)
        if weight:
            upstreams.append((address, weight))
    if not upstreams:
        raise ValueError("at least one address needs a weight above zero")
    return upstreams


def check_address(address):
    match = _ADDRESS.match(address) if isinstance(address, str) else None
    if match is None or not 1 <= int(match["port"]) <= MAX_PORT:
        raise ValueError(f"{address!r} is not a host:port address")


def check_hostname(hostname):
    if len(hostname) > 253 or not _HOSTNAME.match(hostname):
        raise ValueError(f"{hostname!r} is not a domain name")
    return hostname
