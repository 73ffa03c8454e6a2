"""The Celery application: workers run deployments, beat runs health checks."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mech")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes the database connection around every task
# unless CELERY_DB_REUSE_MAX is set, so each deployment would first wait for
# a new PostgreSQL connection. Workers keep their connection instead, and
# Django's own rule (see ``_fresh_connections``) retires it when broken or
# older than CONN_MAX_AGE. The fixup still closes it every this many tasks.
app.conf.CELERY_DB_REUSE_MAX = 500


@signals.task_prerun.connect
@signals.task_postrun.connect
def _fresh_connections(**kwargs):
    """As Django does around each web request: drop broken or old connections."""
    from django.db import close_old_connections

    close_old_connections()


@app.on_after_finalize.connect
def _schedule_health_checks(sender, **kwargs):
    from django.conf import settings

    sender.add_periodic_task(
        settings.MECH["HEALTH_CHECK_INTERVAL"],
        sender.signature("health.tasks.check_all_health_task"),
        name="check every active deployment",
    )
    sender.add_periodic_task(
        60.0,
        sender.signature("deployments.tasks.reap_stale_deployments_task"),
        name="end deployments whose worker died",
    )


@app.on_after_finalize.connect
def _schedule_release_sync(sender, **kwargs):
    sender.add_periodic_task(
        300.0,
        sender.signature("deployments.tasks.sync_all_releases_task"),
        name="track new releases from image tags",
    )
