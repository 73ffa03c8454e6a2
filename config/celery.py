"""The Celery application: workers run deployments, beat runs health checks."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mech")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
