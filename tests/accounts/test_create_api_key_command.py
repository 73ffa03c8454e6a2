"""``create_api_key`` refuses an expiry that is not in the future."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "expires", ["2020-01-01T00:00:00", "2020-01-01T00:00:00+00:00", "0d", "0h"]
)
def test_expiry_not_in_the_future_is_refused_and_no_key_is_made(world, expires):
    with pytest.raises(CommandError, match="not in the future"):
        call_command("create_api_key", "viewer", "--expires", expires)

    assert ApiKey.objects.count() == 0


def test_future_iso_expiry_is_kept(world):
    moment = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    call_command("create_api_key", "viewer", "--expires", moment.isoformat())

    assert ApiKey.objects.get().expires_at == moment


@pytest.mark.parametrize("expires", ["2030-13-01T00:00:00", "999999999999d", "soon"])
def test_malformed_expiry_is_refused_with_the_accepted_forms(world, expires):
    with pytest.raises(CommandError, match="use 30d, 12h or an ISO date-time"):
        call_command("create_api_key", "viewer", "--expires", expires)

    assert ApiKey.objects.count() == 0
