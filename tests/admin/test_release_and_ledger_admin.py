import pytest
from django.urls import reverse

from deployments.choices import LedgerKind, Trigger
from deployments.models import LedgerEntry, Release


@pytest.fixture
def history(service, qa, operator, current_deployment, make_service):
    for n, svc in enumerate([service, make_service("mech-reader")]):
        Release.objects.create(
            service=svc,
            version="1.0.0",
            image=f"{svc.slug}:1.0.0",
            digest="sha256:" + "ab" * 32,
            is_bad=n == 1,
        )
        LedgerEntry.objects.create(
            service=svc,
            environment=qa,
            number=1,
            kind=LedgerKind.DEPLOY,
            actor=operator,
            trigger=Trigger.ADMIN,
            version="1.0.0",
            deployment=current_deployment if n == 0 else None,
        )


@pytest.mark.parametrize(
    "changelist", ["deployments_release", "deployments_ledgerentry"]
)
def test_changelist_loads_with_data_in_bounded_queries(
    operator_client, history, changelist, django_assert_max_num_queries
):
    # Session, user, two counts, the page with its relations joined, the
    # date hierarchy and the environment filter (at most 7), plus one spare.
    with django_assert_max_num_queries(8):
        response = operator_client.get(reverse(f"admin:{changelist}_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 2


def test_bad_release_filter_keeps_bad_releases(operator_client, history):
    response = operator_client.get(
        reverse("admin:deployments_release_changelist"), {"is_bad__exact": "1"}
    )

    (release,) = response.context["cl"].result_list
    assert release.service.slug == "mech-reader"


@pytest.mark.parametrize("model", [Release, LedgerEntry])
def test_history_cannot_be_added_changed_or_deleted(operator_client, history, model):
    obj = model.objects.order_by("pk").first()
    name = f"admin:deployments_{model._meta.model_name}"

    add = operator_client.get(reverse(f"{name}_add"))
    view = operator_client.get(reverse(f"{name}_change", args=[obj.pk]))
    change = operator_client.post(reverse(f"{name}_change", args=[obj.pk]), {})
    delete = operator_client.post(
        reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}
    )

    assert (add.status_code, change.status_code, delete.status_code) == (
        403,
        403,
        403,
    )
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert model.objects.count() == 2
