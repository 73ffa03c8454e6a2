"""Workers keep their database connection from one task to the next.

Celery's Django fixup would otherwise close it around every task, and each
deployment would begin by waiting for a new PostgreSQL connection.
"""

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from config.celery import _fresh_connections, app


class _Task:
    class request:
        is_eager = False


@pytest.mark.django_db(transaction=True)
def test_the_fixup_leaves_a_healthy_connection_open_between_tasks():
    fixup = DjangoWorkerFixup(app)
    connection.ensure_connection()
    opened = connection.connection

    for _ in range(3):
        fixup.on_task_prerun(sender=_Task)
        _fresh_connections()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        fixup.on_task_postrun(sender=_Task)
        _fresh_connections()

    assert connection.connection is opened


@pytest.mark.django_db(transaction=True)
def test_a_broken_connection_is_dropped_before_the_next_task():
    connection.ensure_connection()
    opened = connection.connection
    connection.errors_occurred = True
    connection.connection.close()

    _fresh_connections()

    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.connection is not opened
