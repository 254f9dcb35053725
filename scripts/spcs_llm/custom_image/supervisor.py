"""Run vLLM and the proxy side by side; when one dies, stop the other and exit non-zero.

SPCS restarts a container whose main process exits, and shows the exit code in SHOW SERVICE
CONTAINERS (last_exit_code). So the entrypoint must not outlive a dead vLLM (the proxy would
answer 503 forever) nor a dead proxy (nothing would reach vLLM): one clear line, then exit.

On SIGTERM SPCS gives the container 30 s (spcs_facts.md §8). The proxy is stopped first, so it
can finish in-flight batches against a still-running vLLM; then vLLM; whatever is still alive
when the budget runs out is killed with its process group (vLLM's tensor-parallel workers).
Stdlib only: runs inside the image.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Log = Callable[[str], None]
DEFAULT_SHUTDOWN_BUDGET = 28.0  # seconds; SPCS kills the container 30 s after SIGTERM
UNEXPECTED_EXIT_GRACE = 10.0  # seconds the survivors get when a sibling died


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen
    grace: float  # seconds it may take to stop after SIGTERM, within the budget


class Supervisor:
    def __init__(self, log: Log, *, shutdown_budget: float = DEFAULT_SHUTDOWN_BUDGET, poll_seconds: float = 0.2):
        self.log = log
        self.shutdown_budget = shutdown_budget
        self.poll_seconds = poll_seconds
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], *, grace: float) -> Child:
        """Start a child in its own session, so its process group can be killed as a whole."""
        try:
            process = subprocess.Popen(argv, env=env, start_new_session=True)
        except OSError as err:
            self.stop_all(self.children, budget=UNEXPECTED_EXIT_GRACE)
            raise RuntimeError(f"cannot start {name} ({argv[0]}): {err.strerror or err}") from None
        child = Child(name=name, argv=argv, process=process, grace=grace)
        self.children.append(child)
        self.log(f"started {name} (pid {process.pid})")
        return child

    def run(self, stop: threading.Event) -> int:
        """Block until a child exits (returns non-zero) or stop is set (returns 0 after a clean stop)."""
        while True:
            for child in self.children:
                code = child.process.poll()
                if code is not None:
                    others = [c for c in self.children if c is not child]
                    exit_code = code if code > 0 else 1
                    names = " and ".join(c.name for c in others) or "nothing else"
                    self.log(f"{child.name} exited with code {_describe(code)}; stopping {names} "
                             f"and exiting with code {exit_code}")
                    self.stop_all(others, budget=UNEXPECTED_EXIT_GRACE)
                    return exit_code
            if stop.wait(self.poll_seconds):
                order = " then ".join(c.name for c in self.children)
                self.log(f"SIGTERM: stopping {order} within {self.shutdown_budget:.0f} s")
                self.stop_all(self.children, budget=self.shutdown_budget)
                return 0

    def stop_all(self, children: list[Child], *, budget: float) -> None:
        """SIGTERM each child in order, waiting up to its grace; SIGKILL leftovers at the deadline."""
        deadline = time.monotonic() + budget
        for child in children:
            if child.process.poll() is not None:
                continue
            _signal(child, signal.SIGTERM)
            remaining = deadline - time.monotonic() - 0.5
            try:
                child.process.wait(timeout=max(0.0, min(child.grace, remaining)))
            except subprocess.TimeoutExpired:
                pass  # past its grace: the next child is stopped anyway; leftovers die at the deadline
        for child in children:
            remaining = deadline - time.monotonic()
            if child.process.poll() is None and remaining > 0:
                try:
                    child.process.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    pass
            if child.process.poll() is None:
                self.log(f"{child.name} did not stop in time; killing it")
                _signal(child, signal.SIGKILL, group=True)
                child.process.wait()
            else:
                _signal(child, signal.SIGKILL, group=True)  # orphans of a stopped child


def _signal(child: Child, sig: int, *, group: bool = False) -> None:
    try:
        if group:
            os.killpg(child.process.pid, sig)
        else:
            child.process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"{code} (signal {signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)
