from django.urls import reverse

from deployments.choices import DeploymentStatus, Trigger
from deployments.models import Deployment

CHANGELIST = reverse("admin:deployments_deployment_changelist")
# Session, user, two counts, the page with service, environment and user
# joined, the date hierarchy and the environment filter (7), plus one spare.
CHANGELIST_MAX_QUERIES = 8


def test_changelist_lists_deployments_in_bounded_queries(
    operator_client,
    operator,
    service,
    make_service,
    qa,
    make_deployment,
    django_assert_max_num_queries,
):
    for n in range(20):
        make_deployment(
            make_service(f"svc-{n:02d}"), qa, f"1.{n}.0", requested_by=operator
        )
    make_deployment(service, qa, "3.0.0", status=DeploymentStatus.FAILED)

    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
        response = operator_client.get(CHANGELIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 21
    assert '<span style="color: #c0392b; font-weight: bold">Failed</span>' in html
    assert "12.0 s" in html


def test_changelist_filters_by_status_and_searches_by_service_slug(
    operator_client, service, make_service, qa, make_deployment
):
    failed = make_deployment(service, qa, "3.0.0", status=DeploymentStatus.FAILED)
    make_deployment(service, qa, "2.0.0")
    make_deployment(make_service("other"), qa, "3.0.0", status="failed")

    response = operator_client.get(
        CHANGELIST, {"status__exact": "failed", "q": "mech-search"}
    )

    assert list(response.context["cl"].result_list) == [failed]


def test_change_page_is_read_only_and_shows_the_log(
    operator_client, current_deployment
):
    url = reverse("admin:deployments_deployment_change", args=[current_deployment.pk])

    response = operator_client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert "starting 1.0.0" in html
    assert "healthy after 1 try" in html
    assert 'name="_save"' not in html
    assert 'name="version"' not in html


def test_posting_to_the_change_page_changes_nothing(
    operator_client, current_deployment
):
    url = reverse("admin:deployments_deployment_change", args=[current_deployment.pk])

    response = operator_client.post(url, {"version": "9.9.9", "status": "failed"})

    current_deployment.refresh_from_db()
    assert response.status_code == 403
    assert current_deployment.version == "1.0.0"
    assert current_deployment.status == DeploymentStatus.SUCCEEDED


def test_deployments_cannot_be_added_in_the_admin(operator_client, service, qa):
    add_url = reverse("admin:deployments_deployment_add")

    page = operator_client.get(add_url)
    post = operator_client.post(
        add_url,
        {
            "service": service.pk,
            "environment": qa.pk,
            "version": "1.0.0",
            "trigger": Trigger.ADMIN,
        },
    )

    assert (page.status_code, post.status_code) == (403, 403)
    assert Deployment.objects.count() == 0


def test_deployments_cannot_be_deleted_in_the_admin(
    operator_client, current_deployment
):
    delete_url = reverse(
        "admin:deployments_deployment_delete", args=[current_deployment.pk]
    )

    page = operator_client.get(delete_url)
    post = operator_client.post(delete_url, {"post": "yes"})
    bulk = operator_client.post(
        CHANGELIST,
        {
            "action": "delete_selected",
            "_selected_action": [current_deployment.pk],
            "post": "yes",
        },
    )
    listing = operator_client.get(CHANGELIST)

    assert (page.status_code, post.status_code) == (403, 403)
    assert bulk.status_code == 200
    assert "delete_selected" not in listing.content.decode()
    assert Deployment.objects.filter(pk=current_deployment.pk).exists()
