"""File helpers: atomic writes (no half-written result survives a crash), checked
loading with errors that name the file, and logging for rule scripts."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


HOST = socket.gethostname().replace(".", "_")


class Tee:
    """A text stream that writes to several (a progress bar shown in two logs)."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # someone else's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Temporary files of `path` left by writers on this host that no longer run (a
    kill -9 skips atomic_path's cleanup): removed, and returned. Files of live writers
    and of other hosts (shared storage) are left alone."""
    removed = []
    prefix = f".{path.name}.{HOST}-"
    for tmp in path.parent.glob(f".{path.name}.*"):
        rest = tmp.name[len(prefix):] if tmp.name.startswith(prefix) else ""
        pid = rest.split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except FileNotFoundError:
                pass
    return removed


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it onto `path` only on success.
    The result gets the mode a plain open() would give it under the user's umask
    (mkstemp makes its files 0600, unreadable to anyone else on shared storage). The
    temporary's name carries the host and pid, so the next write of `path` can remove
    what a killed writer left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{HOST}-{os.getpid()}.",
                               suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def checksum_path(path) -> Path:
    """The sidecar that records a file's sha256 (`sha256sum -c` reads it): `path.sha256`."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def save_npy(path, array, sha256=None) -> None:
    """Write `array` atomically; with `sha256` (a path: checksum_path(path) by convention),
    record the file's sha256 there too, so that load_npy can tell when it changed."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
    if sha256 is not None:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        with atomic_path(sha256) as tmp:
            Path(tmp).write_text(f"{digest}  {Path(path).name}\n")


def save_npz(path, **arrays) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def write_csv(path, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def load_npy(path, sha256=None) -> np.ndarray:
    """An .npy file's array; with `sha256` (the sidecar save_npy wrote), only when the
    file's bytes are those recorded there: a changed file raises, naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing input file: {path}")
    data = path.read_bytes()
    if sha256 is not None:
        if not Path(sha256).exists():
            raise FileNotFoundError(f"missing checksum of {path}: {sha256}")
        recorded = (Path(sha256).read_text().split() or [""])[0]
        actual = hashlib.sha256(data).hexdigest()
        if actual != recorded:
            raise ValueError(f"{path} changed after it was written: its sha256 is {actual}, "
                             f"{sha256} recorded {recorded or 'nothing'}")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"corrupt .npy file {path}: {e}") from e


def load_npz(path, keys=()) -> dict:
    """All arrays of an .npz file as a dict; checks that `keys` are present."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing input file: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"corrupt .npz file {path}: {e}") from e
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path} lacks arrays {missing}; it has {sorted(data)}")
    return data


def setup_logging(log_path=None) -> logging.Logger:
    """Log to the rule's log file (and stderr), and record uncaught errors there too."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        open(log_path, "w").close()
        # Append mode: the training progress bar writes to the same file.
        handlers.append(logging.FileHandler(log_path, mode="a"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("icl_diversity")

    def excepthook(kind, value, tb):
        log.error("failed", exc_info=(kind, value, tb))
    sys.excepthook = excepthook
    return log
