"""A small supervisor for the process backend.

``python -m deployments.backends.supervise --pidfile F --log L -- CMD...``
detaches from its caller, writes its own pid to F, runs CMD with its output
appended to L, and starts it again when it exits, backing off up to a limit.
SIGTERM stops the command (its whole process group) and then the supervisor.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

MAX_BACKOFF_SECONDS = 30
STOP_GRACE_SECONDS = 5


def _detach(pidfile):
    if os.fork() > 0:
        # The caller waits for this parent; the pidfile exists before it exits.
        for _ in range(200):
            if os.path.exists(pidfile):
                os._exit(0)
            time.sleep(0.01)
        os._exit(1)
    os.setsid()
    # Let go of the caller's stdout and stderr too: a process manager reading
    # the worker's output would otherwise wait for this supervisor to exit.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    tmp = f"{pidfile}.tmp"
    with open(tmp, "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(tmp, pidfile)


class Supervisor:
    def __init__(self, command, log_path, exit_marker=None):
        self.command = command
        self.log_path = log_path
        self.exit_marker = exit_marker
        self.child = None
        self.stopping = False

    def run(self):
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        backoff = 0.5
        while not self.stopping:
            started = time.monotonic()
            code = self._run_once()
            if self.stopping:
                break
            self._mark_exit(code)
            self._note(f"exited with status {code}; restarting in {backoff:.1f}s")
            time.sleep(backoff)
            ran_long = time.monotonic() - started > MAX_BACKOFF_SECONDS
            backoff = 0.5 if ran_long else min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _run_once(self):
        with open(self.log_path, "ab", buffering=0) as log:
            try:
                self.child = subprocess.Popen(
                    self.command, stdout=log, stderr=log, process_group=0
                )
            except OSError as exc:
                self._note(f"cannot start {self.command[0]}: {exc.strerror}")
                return 127
            return self.child.wait()

    def _mark_exit(self, code):
        # Tells the registry's health gate the command crashed while starting.
        if self.exit_marker:
            with open(self.exit_marker, "w") as marker:
                marker.write(f"{code}\n")

    def _note(self, message):
        with open(self.log_path, "a") as log:
            log.write(f"[supervisor] {message}\n")

    def _on_term(self, signum, frame):
        self.stopping = True
        child = self.child
        if child is None or child.poll() is not None:
            return
        os.killpg(child.pid, signal.SIGTERM)
        # The main loop is inside child.wait(), which holds the Popen's wait
        # lock; a timed wait here could never reap and always ran out its
        # grace period. Escalate from an alarm instead.
        signal.signal(signal.SIGALRM, self._on_grace_over)
        signal.alarm(STOP_GRACE_SECONDS)

    def _on_grace_over(self, signum, frame):
        child = self.child
        if child is None or child.returncode is not None:
            return
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command is required after --")
    _detach(args.pidfile)
    exit_marker = os.path.splitext(args.pidfile)[0] + ".exited"
    Supervisor(command, args.log, exit_marker).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
