"""A real small filesystem for the full-disk tests: a tmpfs mounted for one test (root only)."""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

WHY_NOT = "a real full disk needs a tmpfs, which only root may mount; tests/test_faults.py covers it by injection"


@contextmanager
def small_disk(path: Path, size: str = "16m"):
    """A tmpfs of `size` mounted at `path` for the block; skips, saying why, where none can be mounted."""
    if os.geteuid() != 0:
        pytest.skip(WHY_NOT)
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"{WHY_NOT} (mount said: {mounted.stderr.decode(errors='replace').strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte with a file of zeros; returns it (delete it to free the space)."""
    filler = disk / "filler"
    block = bytes(64 * 1024)
    with open(filler, "wb", buffering=0) as stream:
        while True:
            try:
                stream.write(block)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
        # The last blocks, smaller than one write.
        for size in (4096, 512, 1):
            while True:
                try:
                    stream.write(bytes(size))
                except OSError:
                    break
    return filler
