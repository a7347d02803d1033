"""A lock per training run inside the store, so that workflow runs started from
different working folders (or a cluster job and a local one) never train the same run
at once. Snakemake's own lock lives in each working folder's .snakemake/ and guards
nothing across them.

The lock is a small JSON file created with O_EXCL that names its holder (host, pid,
start time). While held, a thread touches it every `heartbeat` seconds. A lock is stale
when its holder is a process of this host that no longer runs (a kill -9), or when its
heartbeat is older than `stale_after` (a holder on another host that died); a stale lock
is set aside and the run can be taken over, resuming from its rolling checkpoint.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .io import HOST, _pid_alive


class RunLocked(RuntimeError):
    """The run is being trained by another process, and waiting for it timed out."""


def describe(info: dict) -> str:
    return f"host {info.get('host')}, pid {info.get('pid')}, since {info.get('started')}"


class RunLock:
    def __init__(self, path, heartbeat: float = 30.0, stale_after: float = 300.0):
        self.path = Path(path)
        self.heartbeat, self.stale_after = heartbeat, stale_after
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread = None

    def holder(self) -> dict | None:
        """The holder's record, or None when the run is not locked. A lock file that
        cannot be read (being written, or damaged) reads as held by an unknown holder."""
        try:
            text = self.path.read_text()
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            info = json.loads(text)
        except ValueError:
            info = {}
        return dict(info, heartbeat_age=age)

    def stale(self, info: dict) -> str | None:
        """Why the lock `info` describes is stale, or None when its holder may be alive."""
        if info.get("host") == HOST and isinstance(info.get("pid"), int) and not _pid_alive(info["pid"]):
            return f"its holder (pid {info['pid']} on this host) no longer runs"
        if info["heartbeat_age"] > self.stale_after:
            return f"its heartbeat is {info['heartbeat_age']:.0f} s old (stale after {self.stale_after:.0f} s)"
        return None

    def _create(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        record = {"host": HOST, "pid": os.getpid(), "token": self.token,
                  "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record))
            f.flush()
            os.fsync(f.fileno())
        return True

    def _mine(self) -> bool:
        return (self.holder() or {}).get("token") == self.token

    def try_acquire(self, log=None) -> bool:
        """Take the lock if it is free or stale; False while another holder lives."""
        if not self._create():
            info = self.holder()
            if info is None:
                return False     # released just now: the next try takes it
            why = self.stale(info)
            if why is None:
                return False
            # Set the stale lock aside under a name of our own (only one process can
            # move it), then take the lock; a process that judged the same lock stale a
            # moment later could move ours instead, which the check below detects.
            aside = self.path.with_name(f"{self.path.name}.stale-{self.token}")
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return False
            if log:
                log(f"cleared a stale lock of {describe(info)}: {why}")
            aside.unlink(missing_ok=True)
            if not self._create():
                return False
        time.sleep(0.2)
        if not self._mine():
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._mine():
            self.path.unlink(missing_ok=True)


@contextmanager
def run_lock(path, wait: float, poll: float = 2.0, log=print, **kwargs):
    """Hold the run's lock for the `with` block. While another live process holds it,
    wait (saying who holds it, then once a minute) for at most `wait` seconds, then raise
    RunLocked naming the holder."""
    lock = RunLock(path, **kwargs)
    start, said = time.monotonic(), -60.0
    while not lock.try_acquire(log=log):
        info = lock.holder() or {}
        waited = time.monotonic() - start
        if waited > wait:
            raise RunLocked(f"{path}: the run is being trained by {describe(info)}; waited "
                            f"{waited:.0f} s (train.lock_wait = {wait:g}). Rerun once it has "
                            "finished, or remove the lock file if that process is gone.")
        if waited - said >= 60:
            log(f"the run is being trained by {describe(info)}; waiting for it to finish "
                f"(up to train.lock_wait = {wait:g} s)")
            said = waited
        time.sleep(poll)
    try:
        yield lock
    finally:
        lock.release()
