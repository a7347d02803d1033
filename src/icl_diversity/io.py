"""File helpers: atomic writes (no half-written result survives a crash), checked
loading with errors that name the file, and logging for rule scripts."""
from __future__ import annotations

import logging
import os
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


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it onto `path` only on success.
    The result gets the mode a plain open() would give it under the user's umask
    (mkstemp makes its files 0600, unreadable to anyone else on shared storage)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_npy(path, array) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def save_npz(path, **arrays) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def write_csv(path, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def load_npy(path) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing input file: {path}")
    try:
        return np.load(path, allow_pickle=False)
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
