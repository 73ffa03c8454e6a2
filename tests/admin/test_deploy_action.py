from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.choices import Action
from accounts.permissions import grant
from deployments.choices import DeploymentStatus, Trigger
from deployments.models import ConfigValue, Deployment

CHANGELIST = reverse("admin:services_service_changelist")


@pytest.fixture
def delay():
    with mock.patch("deployments.tasks.run_deployment_task.delay") as patched:
        yield patched


def _action_post(services, **form):
    data = {"action": "deploy_version", "_selected_action": [s.pk for s in services]}
    if form:
        data.update(form, deploy="Deploy")
    return data


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_choosing_the_action_shows_the_form_with_recent_versions(
    operator_client, service, qa, make_deployment
):
    make_deployment(service, qa, "1.0.0")
    make_deployment(service, qa, "1.1.0")

    response = operator_client.post(CHANGELIST, _action_post([service]))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"].suggested_versions == ["1.1.0", "1.0.0"]
    assert '<option value="1.1.0">' in html
    assert f'name="_selected_action" value="{service.pk}"' in html
    assert Deployment.objects.count() == 2


def test_action_requests_a_pending_admin_deployment_and_queues_it_after_commit(
    operator_client,
    operator,
    service,
    qa,
    delay,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            CHANGELIST,
            _action_post([service], environment=qa.pk, version="2.0.0"),
            follow=True,
        )

    deployment = Deployment.objects.get()
    assert (deployment.service, deployment.environment) == (service, qa)
    assert deployment.version == "2.0.0"
    assert deployment.status == DeploymentStatus.PENDING
    assert deployment.trigger == Trigger.ADMIN
    assert deployment.requested_by == operator
    delay.assert_called_once_with(deployment.pk)
    change_url = reverse("admin:deployments_deployment_change", args=[deployment.pk])
    assert _messages(response) == [
        f'Deployment <a href="{change_url}">#{deployment.pk}</a> of mech-search '
        "2.0.0 to qa is pending."
    ]


def test_invalid_version_creates_nothing_and_shows_the_error(
    operator_client, service, qa, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = operator_client.post(
            CHANGELIST, _action_post([service], environment=qa.pk, version="-bad v")
        )

    assert response.status_code == 200
    assert Deployment.objects.count() == 0
    assert callbacks == []
    delay.assert_not_called()
    (message,) = _messages(response)
    assert message.startswith(
        "Cannot deploy mech-search: '-bad v' is neither a version"
    )


def test_missing_variable_creates_nothing_and_names_the_variable(
    operator_client, service, qa, delay
):
    ConfigValue.objects.filter(service=service, key="API_KEY").delete()

    response = operator_client.post(
        CHANGELIST, _action_post([service], environment=qa.pk, version="2.0.0")
    )

    assert Deployment.objects.count() == 0
    delay.assert_not_called()
    assert _messages(response) == [
        "Cannot deploy mech-search: required variables have no value in qa: API_KEY"
    ]


def test_one_refused_service_means_no_deployment_for_any_selected(
    operator_client, service, make_service, qa, delay
):
    unready = make_service("mech-reader", required_env=["TOKEN"])

    response = operator_client.post(
        CHANGELIST,
        _action_post([service, unready], environment=qa.pk, version="2.0.0"),
    )

    assert Deployment.objects.count() == 0
    delay.assert_not_called()
    assert _messages(response) == [
        "Cannot deploy mech-reader: required variables have no value in qa: TOKEN"
    ]


def test_deploy_button_on_a_service_deploys_and_opens_the_deployment(
    operator_client, operator, service, qa, delay, django_capture_on_commit_callbacks
):
    url = reverse("admin:services_service_deploy", args=[service.pk])
    assert operator_client.get(url).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            url, {"environment": qa.pk, "version": "2.1.0", "deploy": "Deploy"}
        )

    deployment = Deployment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse(
        "admin:deployments_deployment_change", args=[deployment.pk]
    )
    assert (deployment.trigger, deployment.requested_by) == (Trigger.ADMIN, operator)
    delay.assert_called_once_with(deployment.pk)


def test_staff_without_deploy_permission_can_neither_see_nor_use_deploying(
    client, django_user_model, service, qa, delay
):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_service"))
    client.force_login(viewer)

    listing = client.get(CHANGELIST)
    action = client.post(
        CHANGELIST, _action_post([service], environment=qa.pk, version="2.0.0")
    )
    button = client.post(
        reverse("admin:services_service_deploy", args=[service.pk]),
        {"environment": qa.pk, "version": "2.0.0", "deploy": "Deploy"},
    )

    assert "deploy_version" not in listing.content.decode()
    assert action.status_code == 200
    assert button.status_code == 403
    assert Deployment.objects.count() == 0
    delay.assert_not_called()


@pytest.fixture
def developer(django_user_model):
    """Staff who may deploy in general, but only services granted to them."""
    user = django_user_model.objects.create_user("dev", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_service", "deploy_service"])
    )
    return user


def test_developer_is_refused_a_service_not_granted_to_them(
    client, developer, service, qa, delay
):
    client.force_login(developer)

    response = client.post(
        CHANGELIST, _action_post([service], environment=qa.pk, version="2.0.0")
    )

    assert Deployment.objects.count() == 0
    delay.assert_not_called()
    # The service is not even listed for them, so there is nothing to act on.
    assert response.status_code == 200
    assert _messages(response) == []
    assert "mech-search" not in response.content.decode()


def test_developer_deploys_a_granted_service_but_not_to_a_protected_environment(
    client, developer, service, qa, delay, django_capture_on_commit_callbacks
):
    grant(service, developer, [Action.VIEW, Action.DEPLOY])
    client.force_login(developer)
    qa.protected = True
    qa.save()

    refused = client.post(
        CHANGELIST, _action_post([service], environment=qa.pk, version="2.0.0")
    )
    qa.protected = False
    qa.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            CHANGELIST, _action_post([service], environment=qa.pk, version="2.0.0")
        )

    (message,) = _messages(refused)
    assert message.startswith("Cannot deploy mech-search: qa is protected")
    deployment = Deployment.objects.get()
    assert deployment.requested_by == developer
    delay.assert_called_once_with(deployment.pk)
