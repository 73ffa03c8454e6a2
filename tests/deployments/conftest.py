import pytest

from deployments.backends.docker import DockerBackend
from deployments.backends.process import ProcessBackend
from deployments.models import Deployment, Environment


def _quiet(message):
    pass


@pytest.fixture
def running_instances(transactional_db, celery_worker):
    """Stops, after the test, every instance its deployments left running."""
    yield
    left = Deployment.objects.exclude(handle="").filter(stopped_at__isnull=True)
    for deployment in left:
        if deployment.backend == "docker":
            DockerBackend().stop(deployment.handle, _quiet)
        elif deployment.backend == "process":
            backend = ProcessBackend(state_dir=celery_worker.process_dir)
            backend.stop(deployment.handle, _quiet)


@pytest.fixture
def environment_for(transactional_db):
    def make(backend):
        environment, _ = Environment.objects.get_or_create(
            name=f"{backend}-e2e", defaults={"backend": backend}
        )
        return environment

    return make
