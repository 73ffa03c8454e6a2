"""Staff see in the admin only the services their teams were granted."""

import pytest
from django.test import Client

from accounts.choices import Role
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_developer(world):
    user = world["users"][Role.DEVELOPER]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def test_service_list_shows_only_granted_services(world, staff_developer):
    response = staff_developer.get("/admin/services/service/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "alpha-api" in body
    assert "beta-api" not in body


def test_another_teams_service_page_is_not_found(world, staff_developer):
    response = staff_developer.get(
        f"/admin/services/service/{world['other'].pk}/change/"
    )

    # Django's admin redirects a missing object to the index with a message.
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_superuser_still_sees_every_service(world, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.test")
    client = Client()
    client.force_login(root)

    body = client.get("/admin/services/service/").content.decode()

    assert "alpha-api" in body
    assert "beta-api" in body


def test_deployments_of_other_teams_stay_out_of_the_list(world, staff_developer):
    for service in (world["own"], world["other"]):
        Deployment.objects.create(
            service=service,
            environment=world["staging"],
            version="1.0.0",
            trigger="cli",
        )

    response = staff_developer.get("/admin/deployments/deployment/")

    if response.status_code == 403:
        pytest.fail("developers should be able to view deployments in the admin")
    body = response.content.decode()
    assert "alpha-api" in body
    assert "beta-api" not in body
