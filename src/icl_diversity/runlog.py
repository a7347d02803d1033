"""Append-only logs of fixed-size records, kept beside a run's rolling checkpoint.

What a run records at every step or evaluation (losses, predictions on the curve
sequences) grows with the run, so it lives here rather than in the checkpoint: a
checkpoint holds only the log's length and the sha256 of its contents so far, and
stays the same size at every step. On resume the log is checked against that digest
and cut back to that length (records written after the checkpoint are made again), so a
resumed run's logs are byte for byte those of an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np


class LogMismatch(ValueError):
    """A log that is shorter than, or differs from, what its checkpoint recorded."""


class AppendLog:
    """Records of one numpy (structured) dtype, appended to `path`."""

    def __init__(self, path, dtype: np.dtype):
        self.path, self.dtype = Path(path), np.dtype(dtype)
        self.count, self._hash, self._file = 0, hashlib.sha256(), None

    def start(self) -> None:
        """An empty log (whatever was at `path` is discarded)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")
        self.count, self._hash = 0, hashlib.sha256()

    def resume(self, state: dict) -> None:
        """Continue the log that `state` (from `state()`) describes; raises LogMismatch
        when the file is missing, short, or its first records differ."""
        self.close()
        want = state["count"] * self.dtype.itemsize
        if not self.path.exists() or self.path.stat().st_size < want:
            raise LogMismatch(f"{self.path} is missing or shorter than its checkpoint recorded "
                              f"({state['count']} records)")
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(min(1 << 24, want - f.tell())), b""):
                digest.update(block)
        if digest.hexdigest() != state["sha256"]:
            raise LogMismatch(f"{self.path} differs from what its checkpoint recorded")
        self._file = open(self.path, "r+b")
        self._file.truncate(want)
        self._file.seek(want)
        self.count, self._hash = state["count"], digest

    def append(self, records: np.ndarray) -> None:
        data = np.ascontiguousarray(records, dtype=self.dtype).tobytes()
        self._file.write(data)
        self._hash.update(data)
        self.count += len(data) // self.dtype.itemsize

    def state(self) -> dict:
        """Length and digest, made durable first: a checkpoint stores them."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return {"count": self.count, "sha256": self._hash.hexdigest()}

    def read(self) -> np.ndarray:
        """Every record appended, read back from the file and checked against the
        length and digest this writer holds in memory: raises LogMismatch naming the
        file when it was cut, grown or changed behind the writer's back."""
        self._file.flush()
        data = np.fromfile(self.path, dtype=np.uint8) if self.path.exists() else np.zeros(0, np.uint8)
        want = self.count * self.dtype.itemsize
        if len(data) != want:
            raise LogMismatch(f"{self.path} holds {len(data)} bytes, but {self.count} records "
                              f"({want} bytes) were written to it: it was changed during the run")
        if hashlib.sha256(data).hexdigest() != self._hash.hexdigest():
            raise LogMismatch(f"{self.path} differs from the records written to it: it was "
                              "changed during the run")
        return data.view(self.dtype)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
