import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def ensure_admin(*args):
    out = StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def printed_password(output):
    return re.search(r"password: (\S+)", output).group(1)


def test_ensure_admin_creates_a_superuser_with_the_printed_password():
    output = ensure_admin()

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert user.check_password(printed_password(output))


def test_ensure_admin_is_idempotent_and_keeps_the_password():
    first = ensure_admin()
    password_hash = get_user_model().objects.get(username="admin").password

    second = ensure_admin()

    user = get_user_model().objects.get(username="admin")
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert user.password == password_hash
    assert user.check_password(printed_password(first))
    assert "already exists" in second
    assert "manage.py changepassword admin" in second
    assert "password:" not in second


def test_ensure_admin_leaves_an_existing_plain_user_alone():
    get_user_model().objects.create_user("admin", password="chosen-by-owner-1")

    output = ensure_admin()

    user = get_user_model().objects.get(username="admin")
    assert "not a superuser" in output
    assert user.is_superuser is False
    assert user.check_password("chosen-by-owner-1")
