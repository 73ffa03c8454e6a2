import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import get_perms

from services.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    return Service.objects.create(slug="alpha-api", name="Alpha", port=8000)


def test_service_page_links_deploy_and_object_permissions(admin_client, service):
    response = admin_client.get(f"/admin/services/service/{service.pk}/change/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Deploy a version…" in body
    assert "Object permissions" in body


def test_object_permissions_page_grants_a_team_deploy_on_one_service(
    admin_client, service
):
    team = Group.objects.create(name="alpha")
    url = f"/admin/services/service/{service.pk}/permissions/group-manage/{team.pk}/"

    response = admin_client.post(url, {"permissions": ["deploy_service"]})

    assert response.status_code == 302
    assert get_perms(team, service) == ["deploy_service"]
