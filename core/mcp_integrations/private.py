"""Folders and files only the hub's user can read: the data dir holds secrets and logs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700, whatever the umask."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)
    return path


def touch_private(path: Path) -> Path:
    """Create ``path`` 0600 if missing (before anything else writes to it), else chmod it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    path.chmod(FILE_MODE)
    return path


def open_private(path: Path, mode: str = "a") -> IO[str]:
    """Open a text file for writing that no other user can read."""
    return open(touch_private(path), mode, encoding="utf-8")
