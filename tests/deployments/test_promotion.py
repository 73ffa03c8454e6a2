"""Promotion: production runs exactly the release serving in staging."""

import pytest

from deployments.models import Deployment, LedgerEntry
from tests.deployments.e2e_fixtures import (  # noqa: F401 (fixtures)
    docker_environment_fixture,
    e2e_images_fixture,
    e2e_service_fixture,
)
from tests.deployments.steps import (
    accepted,
    deploy,
    fetch,
    log_messages,
    set_variables,
    wait_until_finished,
)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def stages(docker_environment):
    return docker_environment("staging").name, docker_environment("production").name


def promote(api, slug, source, target):
    return api.post(
        "/api/deployments/promote",
        {"serviceId": slug, "source": source, "target": target},
        format="json",
    )


def digest_of(image):
    digest = image.partition("@")[2]
    assert digest.startswith("sha256:"), image
    return digest


def test_promotion_runs_the_staging_digest_in_production_and_is_ledgered(
    api, celery_worker, e2e_service, stages
):
    staging, production = stages
    service = e2e_service(staging, production, optional=["MODE", "TOKEN"])
    set_variables(api, service.slug, staging, {"MODE": "trial"}, secret=False)
    set_variables(api, service.slug, production, {"MODE": "live"}, secret=False)
    # Secret keys may differ: only production talks to the real provider.
    set_variables(api, service.slug, production, {"TOKEN": "t-production-1"})
    staged = deploy(api, celery_worker, service.slug, staging, "1.0.0")
    assert staged["status"] == "succeeded", log_messages(staged)

    response = promote(api, service.slug, staging, production)

    promoted = wait_until_finished(api, celery_worker, accepted(response))
    assert promoted["status"] == "succeeded", log_messages(promoted)
    assert (promoted["kind"], promoted["version"]) == ("promotion", "1.0.0")
    assert promoted["environment"] == production
    assert promoted["reason"] == f"promoted from {staging} (#{staged['id']})"
    assert digest_of(promoted["image"]) == digest_of(staged["image"])
    assert promoted["isCurrent"] is True
    assert fetch(promoted["address"], "/version") == (200, "1.0.0\n")
    ledger = api.get(
        f"/api/services/{service.slug}/ledger?environment={production}"
    ).json()["results"]
    newest = ledger[0]
    assert (newest["kind"], newest["version"]) == ("promotion", "1.0.0")
    assert newest["digest"] == digest_of(staged["image"])
    assert newest["deploymentId"] == promoted["id"]
    assert (newest["trigger"], newest["actor"]) == ("api", "admin")


def test_promotion_with_different_non_secret_keys_is_refused_and_creates_nothing(
    api, celery_worker, e2e_service, stages
):
    staging, production = stages
    service = e2e_service(staging, production, optional=["MODE", "REGION"])
    set_variables(api, service.slug, staging, {"MODE": "trial"}, secret=False)
    set_variables(api, service.slug, production, {"REGION": "eu"}, secret=False)
    staged = deploy(api, celery_worker, service.slug, staging, "1.0.0")
    assert staged["status"] == "succeeded", log_messages(staged)
    deployments, entries = Deployment.objects.count(), LedgerEntry.objects.count()

    response = promote(api, service.slug, staging, production)

    assert response.status_code == 400
    assert response.json() == {
        "code": "config_mismatch",
        "message": f"{staging} and {production} set different non-secret keys "
        f"for {service}",
        "missingInTarget": ["MODE"],
        "extraInTarget": ["REGION"],
    }
    assert Deployment.objects.count() == deployments
    assert LedgerEntry.objects.count() == entries
    assert not Deployment.objects.filter(environment__name=production).exists()
