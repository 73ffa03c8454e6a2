"""People and services the access tests share.

Each role has one member; all four belong to the team ``alpha``, which holds
every object permission on ``alpha-api`` and none on ``beta-api``.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.choices import Action, Role
from accounts.models import ApiKey
from accounts.permissions import grant, team
from deployments.choices import BackendKind
from deployments.models import Environment
from services.models import Service

PASSWORD = "a long enough password for tests"
ROLES = [Role.VIEWER, Role.DEVELOPER, Role.MAINTAINER, Role.ADMIN]


def make_service(slug):
    return Service.objects.create(
        slug=slug,
        name=slug.title(),
        port=8000,
        docker_registry="127.0.0.1:5000/examples",
        docker_image=slug,
        process_command="python -m http.server $PORT",
    )


def make_world():
    own, other = make_service("alpha-api"), make_service("beta-api")
    alpha = team("alpha")
    grant(own, alpha, list(Action))
    users = {}
    for role in ROLES:
        user = get_user_model().objects.create_user(role.value, password=PASSWORD)
        user.groups.add(Group.objects.get(name=role.value), alpha)
        users[role] = user
    # Access is the question here, not backends: no registry is asked.
    Environment.objects.update(backend=BackendKind.PROCESS)
    staging = Environment.objects.get(name="staging")
    production = Environment.objects.get(name="production")
    return {
        "own": own,
        "other": other,
        "users": users,
        "staging": staging,
        "production": production,
    }


def client_for(user, **key_options):
    """An API client signing in with a fresh key of ``user``."""
    _, raw_key = ApiKey.issue(user, "tests", **key_options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client
