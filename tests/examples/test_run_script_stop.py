"""How scripts/run.sh stops deployed examples when `make run` ends.

The script's two stop functions are loaded on their own into a bash shell, so
the tests run them against real processes without starting the whole stack.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

RUN_SH = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"
FUNCTIONS = ("process_names_file", "stop_example_processes")
WAIT_SECONDS = 5


def stop_functions():
    lines, inside = [], False
    for line in RUN_SH.read_text().splitlines():
        if any(line.startswith(f"{name}() {{") for name in FUNCTIONS):
            inside = True
        if inside:
            lines.append(line)
        if inside and line == "}":
            inside = False
    return "\n".join(lines)


def run_stop(state_dir):
    script = f"set -euo pipefail\n{stop_functions()}\nstop_example_processes\n"
    return subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )


def sleeper(*args):
    """A process that sleeps with ``args`` on its command line.

    Popen returns once the child has exec'd, so its cmdline is final.
    """
    code = "import time; time.sleep(60)"
    return subprocess.Popen([sys.executable, "-c", code, *args])


def has_exited(process):
    try:
        process.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()


@pytest.fixture
def pid_dir(tmp_path):
    (tmp_path / "processes").mkdir()
    return tmp_path / "processes"


def exited_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stop_is_silent_about_pidfiles_of_exited_supervisors(pid_dir):
    for n in range(3):
        (pid_dir / f"old-{n}.pid").write_text(f"{exited_pid()}\n")
    (pid_dir / "garbled.pid").write_text("not a pid\n")
    (pid_dir / "empty.pid").write_text("")

    result = run_stop(pid_dir.parent)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_stop_ends_a_supervisor_that_names_its_pidfile(pid_dir, processes):
    pidfile = pid_dir / "mech-search-staging.pid"
    ours = sleeper("--pidfile", str(pidfile))
    processes.append(ours)
    pidfile.write_text(f"{ours.pid}\n")

    result = run_stop(pid_dir.parent)

    assert has_exited(ours)
    assert ours.returncode == -signal.SIGTERM
    assert result.stdout == (
        f"stopped deployed process {ours.pid} (mech-search-staging)\n"
    )
    assert result.stderr == ""


def test_stop_leaves_a_process_that_does_not_name_the_pidfile(pid_dir, processes):
    pidfile = pid_dir / "mech-reader-staging.pid"
    # A reused pid, and a pidfile path that only begins like ours.
    stranger = sleeper("--pidfile", f"{pidfile}.bak")
    processes.append(stranger)
    pidfile.write_text(f"{stranger.pid}\n")

    result = run_stop(pid_dir.parent)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert stranger.poll() is None
