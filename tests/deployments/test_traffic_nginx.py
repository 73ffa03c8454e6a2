"""Traffic through a real nginx on loopback: switching, canary weights, TLS."""

import datetime
import os
import stat
import threading
import time

import pytest
import requests
from cryptography import x509
from requests.adapters import HTTPAdapter
from urllib3 import HTTPSConnectionPool
from urllib3.util.retry import Retry

from deployments import traffic
from deployments.traffic import NullRouter, TrafficError
from deployments.traffic.nginx import NginxRouter
from deployments.traffic.tls import certificate_for, generate_self_signed
from tests.deployments.nginx_fixture import (  # noqa: F401 (fixtures)
    REQUEST_TIMEOUT,
    backends_fixture,
    client_fixture,
    get_through,
    make_service,
    nginx_router_fixture,
)

DOMAIN = "shop.example.test"
CANARY_REQUESTS = 1000
LOAD_SECONDS = 2.0


def answers(client, router, hostname, count):
    return [get_through(client, router, hostname).text for _ in range(count)]


def test_single_upstream_serves_the_domain(nginx_router, backends, client):
    blue = backends("blue")
    service = make_service()

    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])

    response = get_through(client, nginx_router, DOMAIN)
    assert (response.status_code, response.text) == (200, "blue")


def test_switch_sends_every_request_to_the_new_address(nginx_router, backends, client):
    blue, green = backends("blue"), backends("green")
    service = make_service()
    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])

    nginx_router.set_upstreams(service, "production", [(green.address, 100)])

    assert answers(client, nginx_router, DOMAIN, 20) == ["green"] * 20


def test_canary_at_ten_percent_gets_ten_percent_of_requests(
    nginx_router, backends, client
):
    stable, canary = backends("stable"), backends("canary")
    service = make_service()

    nginx_router.set_upstreams(
        service, "production", [(stable.address, 90), (canary.address, 10)]
    )
    seen = answers(client, nginx_router, DOMAIN, CANARY_REQUESTS)

    assert seen.count("stable") + seen.count("canary") == CANARY_REQUESTS
    assert 80 <= seen.count("canary") <= 120


def _request_until(stop, client, router, log):
    deadline = time.monotonic() + LOAD_SECONDS * 3
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            response = get_through(client, router, DOMAIN)
            log.append((time.monotonic(), response.status_code, response.text))
        except requests.RequestException as exc:
            log.append((time.monotonic(), None, repr(exc)))


def test_switch_under_load_fails_no_request(nginx_router, backends, client):
    # As HTTP clients do (RFC 9112, 9.3.1), a GET is sent again once when
    # the server closed the reused keep-alive connection it went out on:
    # nginx's old workers close idle connections as a reload retires them.
    # A request that fails twice still counts as failed.
    retry_once = Retry(total=1, connect=1, read=1, status=0, redirect=0)
    client.mount("http://", HTTPAdapter(max_retries=retry_once))
    blue, green = backends("blue"), backends("green")
    service = make_service()
    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])
    log, stop = [], threading.Event()
    requester = threading.Thread(
        target=_request_until, args=(stop, client, nginx_router, log)
    )

    requester.start()
    time.sleep(LOAD_SECONDS / 2)
    nginx_router.set_upstreams(service, "production", [(green.address, 100)])
    switched_at = time.monotonic()
    # Blue-green stops the old instance as soon as traffic has moved.
    blue.close()
    time.sleep(LOAD_SECONDS / 2)
    stop.set()
    requester.join(REQUEST_TIMEOUT)

    failed = [entry for entry in log if entry[1] != 200]
    after = {text for at, _, text in log if at > switched_at}
    assert failed == []
    assert {text for _, _, text in log} == {"blue", "green"}
    assert after == {"green"}
    assert len(log) > 100


def test_rejected_config_keeps_previous_config_serving_and_raises(
    nginx_router, backends, client
):
    blue, green = backends("blue"), backends("green")
    nginx_router.set_upstreams(make_service(), "production", [(blue.address, 100)])
    site = nginx_router.site_path(make_service(), "production")
    before = site.read_text()
    # An operator-supplied certificate nginx cannot read fails `nginx -t`.
    certs = nginx_router.cert_dir
    certs.mkdir()
    (certs / f"{DOMAIN}.crt").write_text("not a certificate\n")
    (certs / f"{DOMAIN}.key").write_text("not a key\n")

    with pytest.raises(TrafficError, match="nginx rejected the configuration"):
        nginx_router.set_upstreams(
            make_service(ssl=True), "production", [(green.address, 100)]
        )

    assert site.read_text() == before
    assert answers(client, nginx_router, DOMAIN, 5) == ["blue"] * 5


def test_malformed_address_is_refused_before_any_file_is_written(nginx_router):
    service = make_service()

    with pytest.raises(ValueError, match="not a host:port address"):
        nginx_router.set_upstreams(
            service, "production", [("127.0.0.1:80; include /etc/passwd", 100)]
        )

    assert not nginx_router.site_path(service, "production").exists()


def test_https_works_with_the_generated_self_signed_certificate(
    nginx_router, backends, client
):
    blue = backends("blue")
    service = make_service(ssl=True)

    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])
    certificate = nginx_router.tls_dir / f"{DOMAIN}.crt"
    port = nginx_router.ssl_listen.rsplit(":", 1)[1]
    # Connects to 127.0.0.1 while sending the domain as SNI and Host: no DNS.
    answer = _https_get(DOMAIN, int(port), certificate)

    assert answer == (200, "blue")
    assert blue.seen_headers[-1]["X-Forwarded-Proto"] == "https"


def _https_get(hostname, port, ca_file):
    """GET https://hostname:port/ with SNI and verification, on 127.0.0.1."""
    pool = HTTPSConnectionPool(
        "127.0.0.1",
        port,
        server_hostname=hostname,
        assert_hostname=hostname,
        ca_certs=str(ca_file),
        cert_reqs="CERT_REQUIRED",
        timeout=REQUEST_TIMEOUT,
        retries=False,
    )
    with pool:
        response = pool.request("GET", "/", headers={"Host": hostname})
    return response.status, response.data.decode()


def test_proxy_headers_reach_the_instance(nginx_router, backends, client):
    blue = backends("blue")
    nginx_router.set_upstreams(make_service(), "production", [(blue.address, 100)])

    get_through(
        client, nginx_router, DOMAIN, headers={"X-Forwarded-For": "198.51.100.7"}
    )

    headers = blue.seen_headers[-1]
    assert headers["Host"] == DOMAIN
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-For"] == "198.51.100.7, 127.0.0.1"


def _logged(router, service, offset, count, seconds=5.0):
    """Stats once ``count`` requests are logged: nginx logs after answering."""
    deadline = time.monotonic() + seconds
    while True:
        stats = router.upstream_stats(service, "production", offset)
        logged = sum(counts.requests for counts in stats.addresses.values())
        if logged >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def test_upstream_stats_count_5xx_per_address(nginx_router, backends, client):
    stable, canary = backends("stable"), backends("canary", status=500)
    service = make_service()
    nginx_router.set_upstreams(
        service, "production", [(stable.address, 50), (canary.address, 50)]
    )
    offset = nginx_router.log_offset(service, "production")

    answers(client, nginx_router, DOMAIN, 40)
    stats = _logged(nginx_router, service, offset, 40)
    answers(client, nginx_router, DOMAIN, 10)
    later = _logged(nginx_router, service, stats.offset, 10)

    assert stats.for_address(stable.address).requests == 20
    assert stats.for_address(stable.address).errors == 0
    assert stats.for_address(canary.address).requests == 20
    assert stats.for_address(canary.address).errors == 20
    assert later.for_address(canary.address).errors == 5
    assert later.offset == nginx_router.log_offset(service, "production")


def test_stats_attribute_a_retried_request_to_both_addresses(
    nginx_router, backends, client
):
    stable = backends("stable")
    gone = backends("gone")
    gone_address = gone.address
    gone.close()
    service = make_service()
    nginx_router.set_upstreams(
        service, "production", [(stable.address, 50), (gone_address, 50)]
    )

    texts = answers(client, nginx_router, DOMAIN, 10)
    stats = nginx_router.upstream_stats(service, "production", 0)

    assert texts == ["stable"] * 10
    assert stats.for_address(gone_address).requests >= 1
    assert stats.for_address(gone_address).errors == (
        stats.for_address(gone_address).requests
    )
    assert stats.for_address(stable.address).errors == 0


def test_staging_serves_the_prefixed_domain_and_production_the_bare_one(
    nginx_router, backends, client
):
    live, trial = backends("live"), backends("trial")
    service = make_service()

    nginx_router.set_upstreams(service, "production", [(live.address, 100)])
    nginx_router.set_upstreams(service, "staging", [(trial.address, 100)])

    assert get_through(client, nginx_router, DOMAIN).text == "live"
    assert get_through(client, nginx_router, f"staging.{DOMAIN}").text == "trial"
    assert nginx_router.hostnames(service, "staging") == [f"staging.{DOMAIN}"]


def test_unknown_hostname_gets_404_from_nginx(nginx_router, backends, client):
    blue = backends("blue")
    nginx_router.set_upstreams(make_service(), "production", [(blue.address, 100)])

    response = get_through(client, nginx_router, "other.example.test")

    assert response.status_code == 404
    assert blue.seen_headers == []


def test_remove_stops_serving_the_domain(nginx_router, backends, client):
    blue = backends("blue")
    service = make_service()
    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])

    nginx_router.remove(service, "production")

    assert get_through(client, nginx_router, DOMAIN).status_code == 404
    assert not nginx_router.site_path(service, "production").exists()


def test_domain_served_by_another_service_is_refused(nginx_router, backends, client):
    blue, green = backends("blue"), backends("green")
    nginx_router.set_upstreams(make_service(), "production", [(blue.address, 100)])

    with pytest.raises(TrafficError, match="already served by shop.production"):
        nginx_router.set_upstreams(
            make_service(slug="rival"), "production", [(green.address, 100)]
        )

    assert get_through(client, nginx_router, DOMAIN).text == "blue"


def test_concurrent_writers_all_end_up_served(nginx_router, backends, client):
    services = [make_service(f"svc{n}", [f"svc{n}.example.test"]) for n in range(6)]
    instances = [backends(service.slug) for service in services]
    errors = []

    def route(service, backend):
        try:
            nginx_router.set_upstreams(service, "production", [(backend.address, 100)])
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)

    threads = [
        threading.Thread(target=route, args=pair)
        for pair in zip(services, instances, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    for service in services:
        assert get_through(client, nginx_router, service.domains[0]).text == (
            service.slug
        )


def test_ensure_running_starts_a_stopped_nginx(nginx_router, backends, client):
    blue = backends("blue")
    service = make_service()
    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])
    nginx_router.stop()
    assert nginx_router.running_pid() is None

    pid = nginx_router.ensure_running()

    assert pid == nginx_router.running_pid()
    assert get_through(client, nginx_router, DOMAIN).text == "blue"


def test_service_without_nginx_is_taken_off_the_proxy(nginx_router, backends, client):
    blue = backends("blue")
    service = make_service()
    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])
    service.nginx_enabled = False

    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])

    assert not nginx_router.enabled_for(service)
    assert get_through(client, nginx_router, DOMAIN).status_code == 404


# Router selection and input checks: no nginx needed.


def test_router_is_a_no_op_when_nginx_listen_is_empty(settings):
    settings.MECH = {**settings.MECH, "NGINX_LISTEN": ""}
    service = make_service()

    router = traffic.get_router()
    traffic.set_upstreams(service, "production", [("127.0.0.1:9", 100)])

    assert isinstance(router, NullRouter)
    assert traffic.enabled_for(service) is False
    assert traffic.upstream_errors(service, "production", "127.0.0.1:9", 0) == (0, 0)


def test_router_is_nginx_when_nginx_listen_is_set(settings, tmp_path):
    settings.MECH = {
        **settings.MECH,
        "NGINX_LISTEN": "127.0.0.1:18080",
        "NGINX_DIR": tmp_path,
    }

    router = traffic.get_router()

    assert isinstance(router, NginxRouter)
    assert router.enabled_for(make_service()) is True
    assert router.enabled_for(make_service(domains=())) is False


@pytest.mark.parametrize(
    "upstreams, message",
    [
        ([("127.0.0.1:0", 100)], "not a host:port address"),
        ([("127.0.0.1:80", 101)], "must be 0 to 100"),
        ([("127.0.0.1:80", 0)], "at least one address"),
        ([("127.0.0.1:80", 50), ("127.0.0.1:80", 50)], "listed twice"),
        ([("127.0.0.1:80", "50")], "whole number"),
    ],
)
def test_bad_upstreams_are_refused(upstreams, message):
    with pytest.raises(ValueError, match=message):
        traffic.normalize_upstreams(upstreams)


def test_zero_weight_addresses_are_left_out():
    upstreams = [("127.0.0.1:80", 100), ("[::1]:81", 0)]

    assert traffic.normalize_upstreams(upstreams) == [("127.0.0.1:80", 100)]


def test_wildcard_domain_gets_the_environment_after_the_star(tmp_path):
    router = NginxRouter(directory=tmp_path, listen="127.0.0.1:18080")
    service = make_service(domains=["*.Example.test."])

    assert router.hostnames(service, "production") == ["*.example.test"]
    assert router.hostnames(service, "staging") == ["*.staging.example.test"]


def test_domain_that_could_inject_config_is_refused(tmp_path):
    router = NginxRouter(directory=tmp_path, listen="127.0.0.1:18080")
    service = make_service(domains=["shop.test; return 200"])

    with pytest.raises(ValueError, match="not a domain name"):
        router.hostnames(service, "production")


# Certificates.


def test_generated_pair_is_private_and_names_the_hostname(tmp_path):
    pair = certificate_for(DOMAIN, tmp_path)

    certificate = x509.load_pem_x509_certificate(pair.certificate.read_bytes())
    names = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert pair.generated is True
    assert names == [DOMAIN]
    assert stat.S_IMODE(os.stat(pair.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pair.certificate).st_mode) == 0o600


def test_generated_pair_is_reused_while_valid(tmp_path):
    first = certificate_for(DOMAIN, tmp_path).certificate.read_bytes()

    second = certificate_for(DOMAIN, tmp_path).certificate.read_bytes()

    assert second == first


def test_generated_pair_is_renewed_within_thirty_days_of_expiry(tmp_path):
    old_start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=340)
    generate_self_signed(
        DOMAIN, tmp_path / f"{DOMAIN}.crt", tmp_path / f"{DOMAIN}.key", now=old_start
    )
    old = (tmp_path / f"{DOMAIN}.crt").read_bytes()

    pair = certificate_for(DOMAIN, tmp_path)

    renewed = x509.load_pem_x509_certificate(pair.certificate.read_bytes())
    assert pair.certificate.read_bytes() != old
    assert renewed.not_valid_after_utc > old_start + datetime.timedelta(days=700)


def test_configured_certificate_files_are_used(tmp_path):
    configured = tmp_path / "certs"
    configured.mkdir()
    (configured / f"{DOMAIN}.crt").write_text("operator certificate\n")
    (configured / f"{DOMAIN}.key").write_text("operator key\n")

    pair = certificate_for(DOMAIN, tmp_path / "generated", configured)

    assert pair.generated is False
    assert pair.certificate == configured / f"{DOMAIN}.crt"
    assert not (tmp_path / "generated").exists()


def test_failed_reload_restores_the_files_and_raises(nginx_router, backends, client):
    blue, occupied = backends("blue"), backends("occupied")
    service = make_service()
    nginx_router.set_upstreams(service, "production", [(blue.address, 100)])
    main_before = nginx_router.main_conf.read_text()
    # `nginx -t` does not bind, so a taken port fails only at reload.
    moved = NginxRouter(
        directory=nginx_router.directory,
        listen=occupied.address,
        binary=nginx_router.binary,
        reload_timeout=1.0,
    )

    with pytest.raises(TrafficError, match="nginx did not reload: .*bind"):
        moved.set_upstreams(service, "production", [(blue.address, 100)])

    assert nginx_router.main_conf.read_text() == main_before
    assert get_through(client, nginx_router, DOMAIN).text == "blue"
