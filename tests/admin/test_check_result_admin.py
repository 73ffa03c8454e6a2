from django.urls import reverse
from django.utils import timezone

from health.choices import HealthStatus
from health.models import CheckResult

CHANGELIST = reverse("admin:health_checkresult_changelist")


def test_changelist_shows_results_in_bounded_queries(
    operator_client, current_deployment, django_assert_max_num_queries
):
    for _ in range(20):
        CheckResult.objects.create(
            deployment=current_deployment,
            service=current_deployment.service,
            environment=current_deployment.environment,
            status=HealthStatus.DOWN,
            error="connection refused",
            checked_at=timezone.now(),
        )

    # Session, user, the filtered count, the page with service and
    # environment joined, the date hierarchy and the environment filter (6),
    # plus one spare; the full count is skipped.
    with django_assert_max_num_queries(7):
        response = operator_client.get(CHANGELIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 21
    assert "4 ms" in html
    assert html.count("connection refused") == 20


def test_status_filter_keeps_only_that_status(operator_client, current_deployment):
    down = CheckResult.objects.create(
        deployment=current_deployment,
        service=current_deployment.service,
        environment=current_deployment.environment,
        status=HealthStatus.DOWN,
        checked_at=timezone.now(),
    )

    response = operator_client.get(CHANGELIST, {"status__exact": "down"})

    assert list(response.context["cl"].result_list) == [down]


def test_results_cannot_be_added_or_changed_in_the_admin(
    operator_client, current_deployment
):
    result = CheckResult.objects.get()
    change_url = reverse("admin:health_checkresult_change", args=[result.pk])

    add = operator_client.get(reverse("admin:health_checkresult_add"))
    view = operator_client.get(change_url)
    post = operator_client.post(change_url, {"status": "down"})

    result.refresh_from_db()
    assert add.status_code == 403
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert post.status_code == 403
    assert result.status == HealthStatus.UP
