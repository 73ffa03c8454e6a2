from django.urls import reverse

from deployments.choices import DeploymentStatus


def test_changelist_counts_running_services_and_deployments_in_progress(
    operator_client,
    current_deployment,
    make_service,
    qa,
    make_deployment,
    django_assert_max_num_queries,
):
    other = make_service("other")
    make_deployment(other, qa, "1.0.0", is_current=True)
    make_deployment(other, qa, "1.1.0", status=DeploymentStatus.RUNNING)
    make_deployment(other, qa, "0.9.0")

    # Session, user, two counts, the page with both counts, plus one spare.
    with django_assert_max_num_queries(6):
        response = operator_client.get(
            reverse("admin:deployments_environment_changelist"), {"q": "qa"}
        )

    (row,) = response.context["cl"].result_list
    assert (row.name, row.current_count, row.active_count) == ("qa", 2, 1)
