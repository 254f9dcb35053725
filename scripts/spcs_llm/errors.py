"""The one error type of the pack, and its documented exit codes."""

from __future__ import annotations

# Exit codes shared by every step (documented in docs/cli.md).
EXIT_OK = 0
EXIT_NEGATIVE = 1  # the step ran, and its answer is "no" (nothing fits, checks failed, ...)
EXIT_USAGE = 2  # bad input: flags, files, model ids, plan file
EXIT_ENVIRONMENT = 3  # outside world: Snowflake, network, missing connection or tool


class SpcsLlmError(Exception):
    """An actionable error: what is wrong, and (optionally) what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def as_dict(self) -> dict:
        return {"error": self.message, "hint": self.hint, "exit_code": self.exit_code}


def one_of(value: object, allowed, what: str) -> None:
    """Raise a clear error unless value is in allowed."""
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise SpcsLlmError(f"{what} {value!r} is not valid; allowed: {choices}")
