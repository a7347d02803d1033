"""Checkpoint files: written atomically, read with weights_only=True."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .io import atomic_path


def save_checkpoint(path, state: dict) -> None:
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
        raise ValueError(f"corrupt or unsafe checkpoint {path}: {e}") from e
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_config" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint of this workflow (no model / model_config)")
    return ckpt
