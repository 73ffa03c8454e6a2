"""Every API endpoint × every role × own service, other service, protected.

The endpoints are read from the URL configuration, so an endpoint added
without a rule here fails ``test_every_api_endpoint_has_a_rule``.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.choices import Role
from deployments.choices import DeploymentStatus
from deployments.models import ConfigValue, Deployment
from deployments.releases import SyncResult
from registry.models import AuditEntry
from tests.accounts.personas import PASSWORD, client_for

pytestmark = pytest.mark.django_db

TARGETS = ["own", "other", "protected"]
V, D, M, A = Role.VIEWER, Role.DEVELOPER, Role.MAINTAINER, Role.ADMIN


def api_endpoints():
    """``(url name, method)`` for every route under /api/."""
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("api/"):
                for method in _methods(pattern.callback):
                    found.add((pattern.name, method))

    walk(get_resolver().url_patterns, "")
    return sorted(found)


def _methods(callback):
    if getattr(callback, "actions", None):
        # DRF adds "head" to a viewset's action map on its first GET.
        return [m.upper() for m in callback.actions if m != "head"]
    view_class = getattr(callback, "view_class", None)
    if view_class is None:
        return ["GET"]
    names = ("get", "post", "put", "patch", "delete")
    return [m.upper() for m in names if hasattr(view_class, m)]


def every(status):
    return {V: status, D: status, M: status, A: status}


def only_admin(status, others=404):
    return {V: others, D: others, M: others, A: status}


def _svc(world, target):
    return world["other"] if target == "other" else world["own"]


def _env(world, target):
    return world["production"] if target == "protected" else world["staging"]


def _variables_url(world, target):
    return (
        f"/api/services/{_svc(world, target).slug}/variables/"
        + _env(world, target).name
    )


def _variable(world, target):
    ConfigValue.objects.create(
        service=_svc(world, target),
        environment=_env(world, target),
        key="TOKEN",
        value="s3cret",
    )
    return _variables_url(world, target) + "/TOKEN", None


def _deployment(world, target):
    deployment = Deployment.objects.create(
        service=_svc(world, target),
        environment=_env(world, target),
        version="1.0.0",
        trigger="cli",
    )
    return deployment.pk


def _definition(world, target):
    slug = _svc(world, target).slug
    return f"id: {slug}\nname: Renamed\nconfiguration:\n  port: 9000\n"


def _refresh(world, target, user):
    return {"refresh": str(RefreshToken.for_user(user))}


def _served(world, target, version, minutes_ago, current=False):
    """A deployment that served ``version`` and finished a while ago."""
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    return Deployment.objects.create(
        service=_svc(world, target),
        environment=_env(world, target),
        version=version,
        trigger="cli",
        status=DeploymentStatus.SUCCEEDED,
        is_current=current,
        finished_at=finished,
    )


def _rollback_of_latest(world, target):
    _served(world, target, "1.0.0", minutes_ago=10)
    latest = _served(world, target, "1.1.0", minutes_ago=5, current=True)
    return f"/api/deployments/{latest.pk}/rollback", {}


def _rollback_to_version(world, target):
    _served(world, target, "1.0.0", minutes_ago=10)
    _served(world, target, "1.1.0", minutes_ago=5, current=True)
    url = f"/api/services/{_svc(world, target).slug}/rollback"
    return url, {"environment": _env(world, target).name, "version": "1.0.0"}


def _promotion(world, target):
    # Into the target's environment, from the other one.
    source = world["staging"] if target == "protected" else world["production"]
    Deployment.objects.create(
        service=_svc(world, target),
        environment=source,
        version="1.0.0",
        trigger="cli",
        status=DeploymentStatus.SUCCEEDED,
        is_current=True,
        finished_at=timezone.now(),
    )
    body = {
        "serviceId": _svc(world, target).slug,
        "source": source.name,
        "target": _env(world, target).name,
    }
    return "/api/deployments/promote", body


def _audit_entry(world, target):
    return AuditEntry.objects.filter(object_id=str(_svc(world, target).pk)).first()


# (name, method) -> (request builder, {target: {role: status}}).
# A builder returns (url, body); it may take the acting user as third
# argument. Targets not listed reuse "own".
RULES = {
    ("api-root", "GET"): (lambda w, t: ("/api/", None), {"own": every(200)}),
    ("docs", "GET"): (lambda w, t: ("/api/docs/", None), {"own": every(200)}),
    ("schema", "GET"): (lambda w, t: ("/api/schema/", None), {"own": every(200)}),
    ("service-config-schema", "GET"): (
        lambda w, t: ("/api/schemas/service-config.json", None),
        {"own": every(200)},
    ),
    ("token-obtain", "POST"): (
        lambda w, t, u: (
            "/api/auth/token",
            {"username": u.username, "password": PASSWORD},
        ),
        {"own": every(200)},
    ),
    ("token-refresh", "POST"): (
        lambda w, t, u: ("/api/auth/token/refresh", _refresh(w, t, u)),
        {"own": every(200)},
    ),
    ("token-blacklist", "POST"): (
        lambda w, t, u: ("/api/auth/logout", _refresh(w, t, u)),
        {"own": every(200)},
    ),
    ("service-list", "GET"): (
        lambda w, t: ("/api/services", None),
        {"own": every(200)},
    ),
    ("service-detail", "GET"): (
        lambda w, t: (f"/api/services/{_svc(w, t).slug}", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("service-config", "GET"): (
        lambda w, t: (f"/api/services/{_svc(w, t).slug}/config", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("service-import-definition", "POST"): (
        lambda w, t: ("/api/services/import", _definition(w, t)),
        {
            "own": {V: 403, D: 403, M: 200, A: 200},
            "other": {V: 403, D: 403, M: 404, A: 200},
        },
    ),
    ("service-variables", "GET"): (
        lambda w, t: (_variables_url(w, t), None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("service-variables", "PUT"): (
        lambda w, t: (
            _variables_url(w, t),
            [{"key": "TOKEN", "value": "s3cret", "secret": True}],
        ),
        {"own": {V: 403, D: 403, M: 200, A: 200}, "other": only_admin(200)},
    ),
    ("service-variable", "DELETE"): (
        _variable,
        {"own": {V: 403, D: 403, M: 204, A: 204}, "other": only_admin(204)},
    ),
    ("discovery", "GET"): (
        lambda w, t: ("/api/discovery", None),
        {"own": every(200)},
    ),
    ("health-overview", "GET"): (
        lambda w, t: ("/api/health", None),
        {"own": every(200)},
    ),
    ("service-health", "GET"): (
        lambda w, t: (f"/api/health/{_svc(w, t).slug}", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("service-releases", "GET"): (
        lambda w, t: (f"/api/services/{_svc(w, t).slug}/releases", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("service-ledger", "GET"): (
        lambda w, t: (f"/api/services/{_svc(w, t).slug}/ledger", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("deployment-list", "GET"): (
        lambda w, t: ("/api/deployments", None),
        {"own": every(200)},
    ),
    ("deployment-list", "POST"): (
        lambda w, t: (
            "/api/deployments",
            {
                "serviceId": _svc(w, t).slug,
                "environment": _env(w, t).name,
                "version": "1.0.0",
            },
        ),
        {
            "own": {V: 403, D: 202, M: 202, A: 202},
            # An invisible service reads as an unknown one: 400, not 404.
            "other": only_admin(202, others=400),
            "protected": {V: 403, D: 403, M: 202, A: 202},
        },
    ),
    ("deployment-promote", "POST"): (
        _promotion,
        {
            "own": {V: 403, D: 202, M: 202, A: 202},
            "other": only_admin(202, others=400),
            "protected": {V: 403, D: 403, M: 202, A: 202},
        },
    ),
    ("deployment-rollback", "POST"): (
        _rollback_of_latest,
        {
            "own": {V: 403, D: 202, M: 202, A: 202},
            "other": only_admin(202),
            "protected": {V: 403, D: 403, M: 202, A: 202},
        },
    ),
    ("service-rollback", "POST"): (
        _rollback_to_version,
        {
            "own": {V: 403, D: 202, M: 202, A: 202},
            "other": only_admin(202),
            "protected": {V: 403, D: 403, M: 202, A: 202},
        },
    ),
    ("service-releases-sync", "POST"): (
        lambda w, t: (f"/api/services/{_svc(w, t).slug}/releases/sync", {}),
        {"own": {V: 403, D: 403, M: 200, A: 200}, "other": only_admin(200)},
    ),
    # Only a deploy hook's own token opens this door; API keys do not.
    ("deploy-hook", "POST"): (
        lambda w, t: ("/api/hooks/deploy", {"version": "1.0.0"}),
        {"own": every(401)},
    ),
    ("deployment-detail", "GET"): (
        lambda w, t: (f"/api/deployments/{_deployment(w, t)}", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("deployment-log", "GET"): (
        lambda w, t: (f"/api/deployments/{_deployment(w, t)}/log", None),
        {"own": every(200), "other": only_admin(200)},
    ),
    ("environment-list", "GET"): (
        lambda w, t: ("/api/environments", None),
        {"own": every(200)},
    ),
    ("environment-detail", "GET"): (
        lambda w, t: (f"/api/environments/{_env(w, t).name}", None),
        {"own": every(200)},
    ),
    ("audit-list", "GET"): (
        lambda w, t: ("/api/audit", None),
        {"own": only_admin(200, others=403)},
    ),
    ("audit-detail", "GET"): (
        lambda w, t: (f"/api/audit/{_audit_entry(w, t).pk}", None),
        {"own": only_admin(200, others=403)},
    ),
}


def test_every_api_endpoint_has_a_rule():
    missing = [endpoint for endpoint in api_endpoints() if endpoint not in RULES]

    assert missing == []


def _cells():
    for endpoint in api_endpoints():
        for target in TARGETS:
            for role in [V, D, M, A]:
                yield pytest.param(
                    endpoint,
                    target,
                    role,
                    id=f"{endpoint[1]} {endpoint[0]}-{target}-{role}",
                )


def _send(client, method, url, body):
    if isinstance(body, str):
        return getattr(client, method.lower())(
            url, body, content_type="application/yaml"
        )
    return getattr(client, method.lower())(url, body, format="json")


@pytest.mark.parametrize(("endpoint", "target", "role"), list(_cells()))
def test_endpoint_answers_each_role_as_the_matrix_says(world, endpoint, target, role):
    assert endpoint in RULES, f"no permission rule for {endpoint}"
    build, expected = RULES[endpoint]
    user = world["users"][role]
    args = (world, target, user) if build.__code__.co_argcount == 3 else (world, target)
    url, body = build(*args)
    client = client_for(user) if endpoint[0] != "token-obtain" else APIClient()

    # The matrix is about who may act; the worker and the image registry
    # are not part of the question.
    with (
        mock.patch("deployments.tasks.run_deployment_task.delay"),
        mock.patch("deployments.api.releases.sync_releases", return_value=SyncResult()),
    ):
        response = _send(client, endpoint[1], url, body)

    want = expected.get(target, expected["own"])[role]
    assert response.status_code == want, response.content[:300]
