"""Deploy speed: the registry's deployments against a bare ``docker run``.

Starts (or reuses) everything on loopback: the Docker engine and registry,
its own PostgreSQL database and Redis database, the registry's web server,
a Celery worker and, unless --no-nginx, nginx. Then, in each round and
interleaved, it times:

  docker run (CLI and SDK) of the example image to its first 2xx;
  a recreate deployment through POST /api/deployments to its first 2xx;
  a rollback through POST /api/deployments/{id}/rollback;
  with nginx: a blue-green deployment, a rollback seen through nginx and a
  canary's steps.

It prints median, p90 and min of each, the verdict against the targets of
the Speed section of the deployments work (recreate at most 1.5 times
docker run, rollback under 1 s) and a breakdown of where a deployment's
time goes, read from its log lines. It exits 0 once it has measured, met
targets or not (it is a measurement, not a test), and 2 when it cannot set
up. Run it with `make bench`.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RECREATE_RATIO_TARGET = 1.5
ROLLBACK_TARGET_SECONDS = 1.0
MAX_ROUNDS = 100

DOCKER_CLI = "docker run (CLI) → first 2xx"
DOCKER_SDK = "docker run (SDK) → first 2xx"
RECREATE_SERVED = "recreate: POST → first 2xx of new release"
RECREATE_DONE = "recreate: POST → succeeded (finishedAt)"
RECREATE_API = "recreate: POST → client sees succeeded"
FIRST_SERVED = "first deploy (nothing to stop): POST → first 2xx"
ROLLBACK_DONE = "rollback: POST → succeeded (finishedAt)"
ROLLBACK_SERVED = "rollback: POST → old release answers on its address"
ROLLBACK_NGINX = "rollback: POST → old release answers via nginx"
BLUE_GREEN_SERVED = "blue-green: POST → new release via nginx"
BLUE_GREEN_DONE = "blue-green: POST → succeeded (finishedAt)"
BLUE_GREEN_TOTAL = "blue-green: POST → old release stopped"
CANARY_DONE = "canary: POST → succeeded (finishedAt)"
ORDER = [
    DOCKER_CLI,
    DOCKER_SDK,
    RECREATE_SERVED,
    RECREATE_DONE,
    RECREATE_API,
    FIRST_SERVED,
    ROLLBACK_DONE,
    ROLLBACK_SERVED,
    ROLLBACK_NGINX,
    BLUE_GREEN_SERVED,
    BLUE_GREEN_DONE,
    BLUE_GREEN_TOTAL,
    CANARY_DONE,
]


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/deploy_speed.py",
        description=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Everything runs on 127.0.0.1. Processes the benchmark starts "
        "are stopped by pid when it ends; a Docker engine and registry that "
        "already answered are reused and left running. See docs/benchmarks.md.",
    )
    parser.add_argument("--rounds", type=int, default=15, help="default: 15")
    parser.add_argument(
        "--example",
        default="",
        help="example service whose image is deployed (default: the one with "
        "the smallest image)",
    )
    parser.add_argument(
        "--no-nginx",
        action="store_true",
        help="skip nginx: no blue-green, canary or rollback through the proxy",
    )
    parser.add_argument(
        "--canary-step-seconds",
        type=float,
        default=1.0,
        help="how long each canary step watches (default: 1.0)",
    )
    parser.add_argument("--probe-ms", type=float, default=5.0, help="default: 5")
    parser.add_argument(
        "--api-poll-ms",
        type=float,
        default=50.0,
        help="how often deployment status is read from the API (default: 50)",
    )
    parser.add_argument("--database", default="mech_bench", help="dropped and made")
    parser.add_argument("--redis-db", type=int, default=12, help="default: 12")
    parser.add_argument(
        "--docker-dir",
        default=str(Path(tempfile.gettempdir()) / "mr-docker"),
        help="where the Docker engine's socket is, or is started (default: "
        "the test suite's)",
    )
    parser.add_argument(
        "--no-start-services",
        action="store_true",
        help="never start dockerd or the registry; fail if they do not answer",
    )
    parser.add_argument("--web-workers", type=int, default=2, help="default: 2")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="default: 2")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=30.0,
        help="stop starting new rounds after this long (default: 30)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write raw samples here")
    parser.add_argument(
        "--keep-state", action="store_true", help="keep the logs and state folder"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds must be 1 to {MAX_ROUNDS}")
    if not arguments.database.startswith("mech_bench"):
        parser.error("--database must start with mech_bench: it is dropped first")
    return arguments


def main(argv=None):
    arguments = parse_arguments(argv)
    from bench.stack import Stack, StackError

    state_dir = Path(tempfile.mkdtemp(prefix="mech-bench-"))
    stack = Stack(
        state_dir,
        arguments.database,
        arguments.redis_db,
        arguments.docker_dir,
        nginx=not arguments.no_nginx,
    )
    try:
        run(stack, arguments)
    except StackError as exc:
        print(f"deploy_speed: cannot set up: {exc}", file=sys.stderr)
        return 2
    finally:
        shutdown(stack, state_dir, arguments.keep_state)
    return 0


def run(stack, arguments):
    print(f"state and logs: {stack.state_dir}")
    stack.check_postgres_and_redis()
    stack.ensure_docker_and_registry(start=not arguments.no_start_services)
    if not stack.nginx and not arguments.no_nginx:
        print("nginx is not installed: skipping blue-green, canary and nginx")
    os.environ.update(stack.env)
    import django

    django.setup()
    stack.recreate_database()
    bench = Bench(stack, arguments)
    bench.prepare()
    stack.start_web(arguments.web_workers)
    stack.start_worker(arguments.worker_concurrency)
    bench.warm_up()
    bench.run_rounds()
    bench.print_report()


def shutdown(stack, state_dir, keep_state):
    from bench.stack import StackError

    try:
        remove_deployed_containers(stack)
        stack.stop_nginx()
    except (StackError, Exception) as exc:  # noqa: BLE001 - still stop the rest
        print(f"cleaning up: {exc}", file=sys.stderr)
    stack.close()
    try:
        stack.forget_queue()
    except Exception as exc:  # noqa: BLE001 - Redis may be what failed
        print(f"could not remove the queue: {exc}", file=sys.stderr)
    if keep_state:
        print(f"kept {state_dir}")
    else:
        shutil.rmtree(state_dir, ignore_errors=True)


def remove_deployed_containers(stack):
    """Remove, at once, the containers this run's deployments started."""
    from django.conf import settings

    if not settings.configured or "deployments" not in sys.modules:
        return
    import docker
    from docker.errors import NotFound

    from deployments.models import Deployment

    client = docker.DockerClient(base_url=stack.docker_host, timeout=60)
    handles = Deployment.objects.exclude(handle="").values_list("handle", flat=True)
    for handle in handles:
        try:
            client.containers.get(handle).remove(force=True)
        except NotFound:
            continue


def _handle(deployment_id):
    from deployments.models import Deployment

    return Deployment.objects.get(pk=deployment_id).handle


class Bench:
    """One benchmark run: the targets, the rounds and the results."""

    def __init__(self, stack, arguments):
        from bench.measure import Timing
        from bench.report import Results

        self.stack = stack
        self.arguments = arguments
        self.timing = Timing(arguments.probe_ms / 1000, arguments.api_poll_ms / 1000)
        self.results = Results()
        self.current = {}
        self.last = {}
        self.notes = []
        self.first_deploys = 0

    def prepare(self):
        import docker

        from bench import catalog

        self.client = docker.DockerClient(base_url=self.stack.docker_host, timeout=60)
        example = self.arguments.example or catalog.smallest_example(self.client)
        definition = catalog.example_definition(example)
        repository = catalog.image_repository(definition)
        if catalog.ensure_images(example, repository, self.stack.env):
            print(f"built and pushed the images of {example}")
        self.image = f"{repository}:{catalog.VERSIONS[0]}"
        self._ensure_local(self.image)
        self.example = example
        environment = catalog.create_environment(self.arguments.canary_step_seconds)
        self.targets = catalog.add_services(definition, environment, self.stack.nginx)
        self.environment = environment.name
        from bench.measure import Api

        self.api = Api(self.stack.base_url, catalog.issue_api_key())

    def _ensure_local(self, reference):
        from docker.errors import ImageNotFound

        try:
            self.client.images.get(reference)
        except ImageNotFound:
            self.client.images.pull(reference)

    # Rounds ------------------------------------------------------------

    def warm_up(self):
        """Deploy both versions once, untimed, so releases and nginx exist."""
        from bench import catalog

        self.run_docker_cli()
        self.first_deploy()
        for name, target in self.targets.items():
            if name == "first":
                continue
            strategy = "recreate" if name == "direct" else "blue-green"
            for version in reversed(catalog.VERSIONS):
                followed = self.deploy(target, version, strategy)
                self.settle(followed)
        self.results.samples.clear()
        self.results.breakdowns.clear()

    def run_rounds(self):
        from bench.measure import BenchError

        stop_at = time.monotonic() + self.arguments.max_minutes * 60
        self.started_at = time.time()
        for number in range(1, self.arguments.rounds + 1):
            if time.monotonic() > stop_at:
                self.notes.append(f"stopped after {number - 1} rounds (--max-minutes)")
                break
            try:
                self.round()
            except BenchError as exc:
                self.notes.append(f"round {number} failed: {exc}")
                print(f"round {number} failed: {exc}", file=sys.stderr)
                break
            print(f"round {number}/{self.arguments.rounds} done", flush=True)
        self.rounds_done = number

    def round(self):
        self.results.add(DOCKER_CLI, self.run_docker_cli())
        self.results.add(DOCKER_SDK, self.run_docker_sdk())
        self.first_deploy()
        self.recreate_and_roll_back()
        if "nginx" in self.targets:
            self.blue_green_and_roll_back()
            self.canary()

    def run_docker_cli(self):
        from bench.measure import docker_run_cli
        from bench.stack import free_port

        target = self.targets["direct"]
        return docker_run_cli(
            self.stack.env,
            self.image,
            free_port(),
            target.health_path,
            self.variables(target),
            self.timing,
        )

    def run_docker_sdk(self):
        from bench.measure import docker_run_sdk
        from bench.stack import free_port

        target = self.targets["direct"]
        return docker_run_sdk(
            self.client,
            self.image,
            free_port(),
            target.health_path,
            self.variables(target),
            self.timing,
        )

    def variables(self, target):
        from bench.catalog import VARIABLE_VALUE

        return {key: VARIABLE_VALUE for key in target.required}

    def first_deploy(self):
        """A deploy into a new environment: like docker run, nothing to replace.

        The service has a port of its own, so the new release is probed there
        from the moment the request is sent, as docker run's container is;
        its container is removed afterwards to free the port again.
        """
        from bench import catalog
        from bench.measure import follow, request

        target = self.targets["first"]
        self.first_deploys += 1
        environment = catalog.create_environment(
            self.arguments.canary_step_seconds,
            name=f"{catalog.ENVIRONMENT}-first-{self.first_deploys}",
        )
        catalog.set_required(target, environment)
        version = catalog.VERSIONS[0]
        body = {
            "serviceId": target.slug,
            "environment": environment.name,
            "version": version,
            "strategy": "recreate",
        }
        sent = request(self.api, "/api/deployments", body)
        own = f"127.0.0.1:{target.port}"
        watch = lambda detail: [(own, target.health_path, "")]  # noqa: E731
        followed = follow(self.api, sent, version, watch, self.timing, probe_only=True)
        self.results.add(FIRST_SERVED, followed.served)
        self.results.add_breakdown("first deploy", followed)
        self.client.api.remove_container(_handle(followed.id), force=True)

    def recreate_and_roll_back(self):
        target = self.targets["direct"]
        old = self.current[target.slug]
        followed = self.deploy(target, self.other(target), "recreate")
        self.results.add(RECREATE_SERVED, followed.served)
        self.results.add(RECREATE_DONE, followed.succeeded)
        self.results.add(RECREATE_API, followed.answered)
        self.results.add_breakdown("recreate", followed)

        rollback = self.roll_back(target, followed, old)
        self.results.add(ROLLBACK_DONE, rollback.succeeded)
        self.results.add(ROLLBACK_SERVED, rollback.served)
        self.results.add_breakdown("rollback", rollback)
        self.settle(rollback)

    def blue_green_and_roll_back(self):
        target = self.targets["nginx"]
        old = self.current[target.slug]
        followed = self.deploy(target, self.other(target), "blue-green")
        self.results.add(BLUE_GREEN_SERVED, followed.served)
        self.results.add(BLUE_GREEN_DONE, followed.succeeded)
        stopped = self.settle(followed)
        self.results.add(BLUE_GREEN_TOTAL, stopped)
        self.results.add_breakdown("blue-green", followed)

        rollback = self.roll_back(target, followed, old)
        self.results.add(ROLLBACK_NGINX, rollback.served)
        self.results.add_breakdown("rollback via nginx", rollback)
        self.settle(rollback)

    def canary(self):
        from bench.measure import epoch

        target = self.targets["nginx"]
        followed = self.deploy(target, self.other(target), "canary")
        self.results.add(CANARY_DONE, followed.succeeded)
        self.results.add_breakdown("canary", followed)
        traffic = [
            (line["message"], epoch(line["at"]))
            for line in followed.log
            if line["message"].startswith("traffic: ")
        ]
        steps = zip(traffic, traffic[1:], strict=False)
        for number, (before, after) in enumerate(steps, 1):
            share = before[0].rsplit(" ", 1)[-1]
            self.results.add(f"canary: step {number} ({share})", after[1] - before[1])
        self.settle(followed)

    def other(self, target):
        from bench.catalog import VERSIONS

        return (
            VERSIONS[1]
            if self.current.get(target.slug) == VERSIONS[0]
            else (VERSIONS[0])
        )

    def deploy(self, target, version, strategy):
        from bench.measure import follow, request

        sent = request(
            self.api,
            "/api/deployments",
            {
                "serviceId": target.slug,
                "environment": self.environment,
                "version": version,
                "strategy": strategy,
            },
        )
        watch, probe_only = self.watch(target), False
        last = self.last.get(target.slug)
        if strategy == "recreate" and not target.hostname and last is not None:
            # Recreate starts the new release on the port of the one it
            # replaces, so where to look is known without asking the API.
            address, path = last.detail["address"], target.health_path
            watch = lambda detail: [(address, path, "")]  # noqa: E731
            probe_only = True
        followed = follow(self.api, sent, version, watch, self.timing, probe_only)
        followed.replaced = target.slug in self.current
        self.current[target.slug] = version
        self.last[target.slug] = followed
        return followed

    def roll_back(self, target, followed, version):
        from bench.measure import follow, request

        sent = request(self.api, f"/api/deployments/{followed.id}/rollback", {})
        rollback = follow(self.api, sent, version, self.watch(target), self.timing)
        rollback.replaced = True
        self.current[target.slug] = version
        self.last[target.slug] = rollback
        return rollback

    def watch(self, target):
        """Where a deployment of ``target`` is seen serving, as it goes on."""
        if target.hostname:
            listen = self.stack.nginx_listen
            return lambda detail: [(listen, target.health_path, target.hostname)]
        own = f"127.0.0.1:{target.port}"
        return lambda detail: [
            (own, target.health_path, ""),
            (detail.get("address"), target.health_path, ""),
        ]

    def settle(self, followed):
        """Wait until the replaced release is stopped; seconds since the POST.

        Recreate stops the old release before it starts the new one; the
        other strategies stop it after the switch, still inside the task.
        """
        from bench.measure import epoch, wait_log_line

        if not followed.replaced or followed.detail["strategy"] == "recreate":
            return None
        followed.log = wait_log_line(
            self.api, followed.id, "stopped the previous release", self.timing
        )
        return epoch(followed.log[-1]["at"]) - followed.sent_at

    # Report --------------------------------------------------------------

    def print_report(self):
        from bench import report

        print()
        self.print_machine()
        print()
        names = ORDER + sorted(
            name for name in self.results.samples if name.startswith("canary: step")
        )
        report.print_table(self.results, names)
        self.print_verdict()
        for kind in (
            "first deploy",
            "recreate",
            "rollback",
            "blue-green",
            "rollback via nginx",
        ):
            report.print_breakdown(self.results, kind)
        report.print_breakdown(self.results, "canary")
        for note in self.notes:
            print(f"note: {note}")
        if self.arguments.json:
            self.write_json(Path(self.arguments.json))

    def machine(self):
        version = self.client.version()
        return {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "docker": version.get("Version", "?"),
            "loadAverage": [round(value, 2) for value in os.getloadavg()],
            "image": self.image,
            "imageBytes": self.client.images.get(self.image).attrs.get("Size", 0),
            "example": self.example,
            "rounds": len(self.results.samples.get(RECREATE_DONE, [])),
            "nginx": bool(self.stack.nginx),
        }

    def print_machine(self):
        info = self.machine()
        print(
            f"machine: {info['cores']} cores, {info['platform']}, Python "
            f"{info['python']}, Docker {info['docker']}, load average "
            f"{' '.join(map(str, info['loadAverage']))}"
        )
        print(
            f"image: {info['image']} ({info['imageBytes'] / 1e6:.2f} MB, example "
            f"{info['example']}); {info['rounds']} rounds; probes every "
            f"{self.arguments.probe_ms:g} ms, API read every "
            f"{self.arguments.api_poll_ms:g} ms"
        )

    def print_verdict(self):
        from bench.report import ms, verdict_line

        results = self.results
        docker_run = results.median(DOCKER_CLI)
        print("\nverdict")
        for label, name in (
            ("recreate replacing a release", RECREATE_SERVED),
            ("recreate, first deploy", FIRST_SERVED),
        ):
            deploy = results.median(name)
            if not (docker_run and deploy):
                continue
            ratio = deploy / docker_run
            verdict_line(
                f"{label} / docker run (CLI), medians",
                f"{ratio:.2f}",
                f"≤ {RECREATE_RATIO_TARGET}",
                ratio <= RECREATE_RATIO_TARGET,
            )
            print(f"  overhead: {ms(deploy - docker_run)} ms (difference of medians)")
        for name in (ROLLBACK_NGINX, ROLLBACK_SERVED):
            value = results.median(name)
            if value is not None:
                verdict_line(
                    name,
                    ms(value),
                    f"< {ROLLBACK_TARGET_SECONDS * 1000:.0f} ms",
                    value < ROLLBACK_TARGET_SECONDS,
                    " ms",
                )

    def write_json(self, path):
        from bench.report import summary

        data = {
            "machine": self.machine(),
            "samplesMs": {
                name: [round(v * 1000, 2) for v in values]
                for name, values in self.results.samples.items()
            },
            "summaryMs": {
                name: {
                    k: round(v * 1000, 2) if k != "n" else v
                    for k, v in summary(values).items()
                }
                for name, values in self.results.samples.items()
            },
            "notes": self.notes,
        }
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"raw samples written to {path}")


if __name__ == "__main__":
    sys.exit(main())
