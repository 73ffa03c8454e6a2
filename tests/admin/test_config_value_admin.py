import pytest
from django.urls import reverse

from deployments.models import ConfigValue

from .conftest import SECRET

CHANGELIST = reverse("admin:deployments_configvalue_changelist")


@pytest.fixture
def config_value(service):
    return ConfigValue.objects.get(service=service, key="API_KEY")


def _change_url(config_value):
    return reverse("admin:deployments_configvalue_change", args=[config_value.pk])


def _form(config_value, **fields):
    data = {
        "service": config_value.service_id,
        "environment": config_value.environment_id,
        "key": config_value.key,
        "secret": "on",
    }
    data.update(fields)
    return data


def test_changelist_masks_the_value(operator_client, config_value):
    response = operator_client.get(CHANGELIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert "API_KEY" in html
    assert "••••••••" in html
    assert SECRET not in html


def test_changelist_runs_in_bounded_queries(
    operator_client, config_value, django_assert_max_num_queries
):
    # Session, user, two counts, the page with service and environment
    # joined, and the environment filter (6), plus one spare.
    with django_assert_max_num_queries(7):
        response = operator_client.get(CHANGELIST)

    assert response.status_code == 200


def test_change_form_never_shows_the_value(operator_client, config_value):
    response = operator_client.get(_change_url(config_value))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="new_value"' in html
    assert SECRET not in html


def test_new_value_is_stored_and_never_echoed(operator_client, config_value):
    fresh = "fresh-Value-55xk"

    response = operator_client.post(
        _change_url(config_value), _form(config_value, new_value=fresh), follow=True
    )
    history = operator_client.get(
        reverse("admin:deployments_configvalue_history", args=[config_value.pk])
    )

    config_value.refresh_from_db()
    assert config_value.value == fresh
    for page in (response, history):
        assert page.status_code == 200
        assert fresh not in page.content.decode()
        assert SECRET not in page.content.decode()


def test_blank_new_value_keeps_the_stored_one(operator_client, config_value):
    operator_client.post(_change_url(config_value), _form(config_value, new_value=""))

    config_value.refresh_from_db()
    assert config_value.value == SECRET


def test_clear_value_stores_an_empty_value(operator_client, config_value):
    operator_client.post(
        _change_url(config_value), _form(config_value, clear_value="on")
    )

    config_value.refresh_from_db()
    assert config_value.value == ""


def test_a_rejected_form_does_not_echo_the_submitted_value(
    operator_client, config_value
):
    typed = "typed-But-Rejected-77"

    response = operator_client.post(
        _change_url(config_value),
        _form(config_value, new_value=typed, clear_value="on"),
    )

    config_value.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert "Give a new value or clear it, not both." in html
    assert typed not in html
    assert config_value.value == SECRET


def test_adding_a_value_through_the_admin_stores_it(operator_client, service, qa):
    response = operator_client.post(
        reverse("admin:deployments_configvalue_add"),
        {
            "service": service.pk,
            "environment": qa.pk,
            "key": "LOG_LEVEL",
            "new_value": "debug-Lv9",
        },
        follow=True,
    )

    stored = ConfigValue.objects.get(service=service, environment=qa, key="LOG_LEVEL")
    assert stored.value == "debug-Lv9"
    assert stored.secret is False
    assert "debug-Lv9" not in response.content.decode()


def test_adding_without_a_value_is_refused(operator_client, service, qa):
    response = operator_client.post(
        reverse("admin:deployments_configvalue_add"),
        {"service": service.pk, "environment": qa.pk, "key": "LOG_LEVEL"},
    )

    assert response.status_code == 200
    assert not ConfigValue.objects.filter(key="LOG_LEVEL").exists()


def test_making_a_secret_public_without_a_new_value_is_refused(
    operator_client, config_value
):
    form = _form(config_value, new_value="")
    del form["secret"]

    response = operator_client.post(_change_url(config_value), form)

    config_value.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter the value again to make a secret value public." in html
    assert SECRET not in html
    assert config_value.secret is True
    assert config_value.value == SECRET


def test_making_a_secret_public_with_a_new_value_stores_it(
    operator_client, config_value
):
    form = _form(config_value, new_value="public-Value-31")
    del form["secret"]

    operator_client.post(_change_url(config_value), form)

    config_value.refresh_from_db()
    assert config_value.secret is False
    assert config_value.value == "public-Value-31"


def test_making_a_public_value_secret_needs_no_new_value(operator_client, config_value):
    ConfigValue.objects.filter(pk=config_value.pk).update(secret=False)

    operator_client.post(_change_url(config_value), _form(config_value, new_value=""))

    config_value.refresh_from_db()
    assert config_value.secret is True
    assert config_value.value == SECRET
