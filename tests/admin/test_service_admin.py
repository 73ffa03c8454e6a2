from django.urls import reverse
from django.utils import timezone

from health.choices import HealthStatus
from health.models import CheckResult

CHANGELIST = reverse("admin:services_service_changelist")
# Session, user, two counts, the page, the current deployments with their
# health, and the environment filter's choices (7), plus one spare; the same
# however many services are listed.
CHANGELIST_MAX_QUERIES = 8


def _slugs_listed(response):
    return [service.slug for service in response.context["cl"].result_list]


def test_changelist_shows_current_version_and_health_per_environment(
    operator_client, current_deployment
):
    response = operator_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    change_url = reverse(
        "admin:deployments_deployment_change", args=[current_deployment.pk]
    )
    assert f'<div><a href="{change_url}">qa: 1.0.0</a>' in html
    assert '<span title="up" style="color: #1e7e34">●</span>' in html
    assert "mech-search" in html


def test_changelist_query_count_does_not_grow_with_services(
    operator_client,
    make_service,
    qa,
    make_deployment,
    django_assert_max_num_queries,
):
    for n in range(25):
        svc = make_service(f"svc-{n:02d}")
        deployment = make_deployment(svc, qa, "2.0.0", is_current=True)
        CheckResult.objects.create(
            deployment=deployment,
            service=svc,
            environment=qa,
            status=HealthStatus.DOWN,
            checked_at=timezone.now(),
        )

    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
        response = operator_client.get(CHANGELIST)

    assert response.status_code == 200
    assert len(_slugs_listed(response)) == 25
    assert (
        response.content.decode().count(
            '<span title="down" style="color: #c0392b">✖</span>'
        )
        == 25
    )


def test_deployed_to_filter_keeps_services_current_in_that_environment(
    operator_client, current_deployment, make_service
):
    make_service("never-deployed")

    response = operator_client.get(CHANGELIST, {"deployed_to": "qa"})

    assert _slugs_listed(response) == ["mech-search"]


def test_deployed_to_filter_ignores_deployments_no_longer_current(
    operator_client, service, qa, make_deployment
):
    make_deployment(service, qa, "0.9.0", is_current=False)

    response = operator_client.get(CHANGELIST, {"deployed_to": "qa"})

    assert _slugs_listed(response) == []


def test_has_image_filter_splits_services_by_docker_image(
    operator_client, service, make_service
):
    make_service("no-image", docker_image="")

    with_image = operator_client.get(CHANGELIST, {"has_image": "yes"})
    without = operator_client.get(CHANGELIST, {"has_image": "no"})

    assert _slugs_listed(with_image) == ["mech-search"]
    assert _slugs_listed(without) == ["no-image"]


def test_nginx_filter_keeps_services_with_nginx_enabled(
    operator_client, service, make_service
):
    make_service("plain")

    response = operator_client.get(CHANGELIST, {"nginx_enabled__exact": "1"})

    assert _slugs_listed(response) == ["mech-search"]


def test_search_matches_repository_url(operator_client, service, make_service):
    make_service("other")

    response = operator_client.get(CHANGELIST, {"q": "acme/mech-search"})

    assert _slugs_listed(response) == ["mech-search"]


def test_change_form_links_the_yaml_export_and_the_deploy_form(
    operator_client, service
):
    url = reverse("admin:services_service_change", args=[service.pk])

    response = operator_client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("service-config", kwargs={"id": "mech-search"}) in html
    assert reverse("admin:services_service_deploy", args=[service.pk]) in html
    assert "/api/search" in html
