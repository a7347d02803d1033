"""File helpers: atomic writes get ordinary permissions, and identical checkpoints give
identical bytes."""
import hashlib
import os
import stat

import numpy as np
import pandas as pd
import pytest
import torch

from icl_diversity.checkpoint import save_checkpoint
from icl_diversity.io import save_npy, save_npz, write_csv
from icl_diversity.model import ModelConfig, build_model


@pytest.fixture
def umask():
    def set_mask(mask):
        previous.append(os.umask(mask))
    previous = []
    yield set_mask
    if previous:
        os.umask(previous[0])


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_get_the_mode_open_would_give(tmp_path, umask, mask):
    umask(mask)
    with open(tmp_path / "plain.txt", "w"):
        pass
    expected = stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)
    assert expected == 0o666 & ~mask
    save_npy(tmp_path / "a.npy", np.zeros(3))
    save_npz(tmp_path / "b.npz", x=np.zeros(3))
    write_csv(tmp_path / "c.csv", pd.DataFrame({"x": [1]}))
    save_checkpoint(tmp_path / "d.pt", {"x": torch.zeros(2)})
    for name in ("a.npy", "b.npz", "c.csv", "d.pt"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected, name


def test_identical_checkpoints_are_identical_bytes(tmp_path):
    cfg = ModelConfig(n_dims=3, n_points=4, n_layer=1, n_embd=8, n_head=2)
    state = {"model": build_model(cfg, 0).state_dict(), "model_config": cfg.to_dict()}
    digests = set()
    for name in ("one/model.pt", "two/model.pt", "one/model.pt"):
        save_checkpoint(tmp_path / name, state)
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1
