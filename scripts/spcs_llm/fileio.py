"""Write files so that a failure never leaves half a file behind: a temporary file in the same
folder, then an atomic rename over the target."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import SpcsLlmError


def write_atomic(path: str | os.PathLike, data: str | bytes, *, mode: int | None = None,
                 create_dirs: bool = True) -> Path:
    """Write text (UTF-8) or bytes to path atomically; `mode` sets permissions (e.g. 0o755).
    create_dirs=False: a missing folder is the user's typo, refused (exit 2) instead of created.
    A path that cannot be written is a clear error naming it (exit 2), never a traceback."""
    path = Path(path)
    if not create_dirs and not path.parent.is_dir():
        raise SpcsLlmError(f"cannot write {path}: folder {path.parent} does not exist",
                           hint="create the folder first, or choose a path in an existing folder")
    try:
        return _write(path, data, mode)
    except OSError as err:
        raise SpcsLlmError(f"cannot write {path}: {err.strerror or err}",
                           hint="choose a writable path (a file in a folder you can write to, not a folder)"
                           ) from err


def _write(path: Path, data: str | bytes, mode: int | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
