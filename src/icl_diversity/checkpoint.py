"""Checkpoint files: written atomically with a checksum of their contents, read with
weights_only=True and verified, so a damaged file is refused instead of silently
resumed or loaded (torch.load does not check the archive's CRCs)."""
from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path

import torch

from .io import atomic_path

CHECKSUM_KEY = "content_sha256"


class CorruptCheckpoint(ValueError):
    """A checkpoint that cannot be read, or whose contents fail their checksum."""


def content_digest(obj) -> str:
    """sha256 of a checkpoint's contents: every tensor's dtype, shape and bytes, and the
    repr of every other value, walked in order. Independent of the device the tensors
    sit on and of how the archive is laid out."""
    h = hashlib.sha256()

    def walk(o):
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous().reshape(-1)
            h.update(f"T{t.dtype}{tuple(o.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        elif isinstance(o, dict):
            h.update(b"{")
            for k, v in o.items():
                h.update(repr(k).encode())
                walk(v)
            h.update(b"}")
        elif isinstance(o, (list, tuple)):
            h.update(b"[" if isinstance(o, list) else b"(")
            for v in o:
                walk(v)
            h.update(b"]")
        else:
            h.update(repr(o).encode())
    walk(obj)
    return h.hexdigest()


def save_checkpoint(path, state: dict) -> None:
    state = dict(state, **{CHECKSUM_KEY: content_digest(state)})
    # Through a file object: torch.save(obj, filename) names the archive's records after
    # the (random) temporary file, so identical states would give different bytes.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(state, f)


def load_checkpoint(path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing checkpoint: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise CorruptCheckpoint(f"corrupt or unsafe checkpoint {path}: {e}") from e
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_config" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint of this workflow (no model / model_config)")
    stored = ckpt.pop(CHECKSUM_KEY, None)
    if stored is None:
        raise CorruptCheckpoint(f"{path} has no content checksum (written by an older version "
                                "of this workflow?); retrain it")
    if content_digest(ckpt) != stored:
        raise CorruptCheckpoint(f"corrupt checkpoint {path}: its contents do not match their "
                                "checksum (a damaged or altered file)")
    return ckpt
