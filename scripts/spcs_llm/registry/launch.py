"""Start the rendered deployment script in the background.

create_service(block=True) waits for the deployment job for many minutes (up to 30 per phase),
longer than an assistant's command timeout, so the script runs detached from the step: its own
session, no stdin, stdout and stderr appended to the log file. The step returns at once with the
pid and the log path; `spcs-llm status --wait` and `tail -f <log>` follow the progress.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
import sys
from pathlib import Path

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError


def command(script: Path, log: Path, result: Path, python: str | None = None) -> list[str]:
    """The exact command line the background start runs."""
    return [python or sys.executable, str(script), "--log", str(log), "--result", str(result)]


def start_background(script: Path, log: Path, result: Path, *, python: str | None = None) -> int:
    """Start the script detached; returns its pid. Output is appended to the log file."""
    if not script.is_file():
        raise SpcsLlmError(f"deployment script {str(script)!r} does not exist", exit_code=EXIT_ENVIRONMENT)
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = command(script, log, result, python)
    detach: dict = {"start_new_session": True}
    if os.name == "nt":  # no sessions on Windows: a new, detached process group instead
        detach = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"--- spcs-llm deploy-registry: starting at {_now()}: {' '.join(argv)}\n")
        out.flush()
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       cwd=str(script.parent), close_fds=True, **detach)
        except OSError as err:
            raise SpcsLlmError(f"could not start {argv[0]}: {err}", exit_code=EXIT_ENVIRONMENT) from err
    return process.pid


def is_running(pid: object) -> bool:
    """True if a process with this pid exists (a recorded deployment may still be running)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
