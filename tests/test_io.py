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


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys
    from icl_diversity.io import HOST
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        target = tmp_path / "big.npz"
        stale = tmp_path / f".big.npz.{HOST}-{dead}.abc123.npz"
        live = tmp_path / f".big.npz.{HOST}-{alive.pid}.def456.npz"
        other_host = tmp_path / ".big.npz.elsewhere-1.ghi789.npz"
        for f in (stale, live, other_host):
            f.write_bytes(b"x" * 100)
        save_npz(target, x=np.zeros(2))
        assert target.exists() and not stale.exists()
        assert live.exists() and other_host.exists()
    finally:
        alive.kill()
        alive.wait()


def test_remove_checkpoint_removes_the_folders_it_empties(tmp_path):
    from icl_diversity.train import remove_checkpoint
    root = tmp_path / "checkpoints"
    a, b = root / "s1" / "seed0" / "M2.pt", root / "s1" / "seed1" / "M2.pt"
    for p in (a, b):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"")
    remove_checkpoint(a, root=root)
    assert not (root / "s1" / "seed0").exists() and b.exists()
    remove_checkpoint(b, root=root)
    assert root.exists() and not any(root.iterdir())
