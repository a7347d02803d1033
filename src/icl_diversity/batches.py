"""Training batches made on the training device: batch `step` of a run is a pure
function of (seeds.train, the run's training seed, step), so a resumed run sees exactly
the batches an uninterrupted one would, and no batch is made on the host and copied.

Each step reseeds one torch generator on the device from a key derived (through numpy's
SeedSequence, like every other stream of the workflow) from (seed, "train_batch",
replicate, step), then draws, in this order: the tasks (pool indices, or fresh tasks at
M = inf), the inputs, the label noise. CPU and CUDA generators are different algorithms,
so the batches of a (seed, step) depend on the device type too; on one device type they
are the same on every run and every resume.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .tasks import PRIORS, PURPOSES


def batch_seed(seed: int, replicate: int, step: int) -> int:
    """The 63-bit torch seed of one training batch."""
    key = [int(seed), PURPOSES["train_batch"], int(replicate), int(step)]
    if min(key) < 0:
        raise ValueError(f"random-stream keys must be non-negative, got {key}")
    return int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0] >> np.uint64(1))


class BatchStream:
    """The training batches of one run, made on `device` (see the module doc)."""

    def __init__(self, batch_size: int, D: int, K: int, noise_var: float, seed: int,
                 pool: np.ndarray | None, task_scale: float = 1.0, x_scale: float = 1.0,
                 replicate: int = 0, device="cpu", prior: str = "gaussian"):
        if prior not in PRIORS:
            raise ValueError(f"unknown task prior {prior!r}; known: {list(PRIORS)}")
        self.batch_size, self.D, self.K = batch_size, D, K
        self.noise_std, self.task_scale, self.x_scale = math.sqrt(noise_var), task_scale, x_scale
        self.seed, self.replicate, self.device = seed, replicate, torch.device(device)
        self.prior = prior
        self.pool = None if pool is None else torch.as_tensor(pool, dtype=torch.float32, device=self.device)
        self.gen = torch.Generator(device=self.device)

    def tasks(self, step: int) -> torch.Tensor:
        """Seed the generator for `step` and draw its tasks ws (batch, D)."""
        self.gen.manual_seed(batch_seed(self.seed, self.replicate, step))
        if self.pool is None:
            shape, kw = (self.batch_size, self.D), dict(generator=self.gen, device=self.device)
            if self.prior == "laplace":
                # Laplace(0, b) as b (E1 - E2) with E1, E2 ~ Exp(1); b = scale / sqrt 2 gives
                # the Gaussian prior's variance (tasks.draw_w)
                e = torch.empty((2, *shape), device=self.device).exponential_(generator=self.gen)
                return self.task_scale / math.sqrt(2.0) * (e[0] - e[1])
            return self.task_scale * torch.randn(*shape, **kw)
        idx = torch.randint(0, len(self.pool), (self.batch_size,), generator=self.gen,
                            device=self.device)
        return self.pool[idx]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(xs (B, K, D), ys (B, K), ws (B, D)) of one step."""
        ws = self.tasks(step)
        kw = dict(generator=self.gen, device=self.device)
        xs = self.x_scale * torch.randn(self.batch_size, self.K, self.D, **kw)
        noise = self.noise_std * torch.randn(self.batch_size, self.K, **kw)
        ys = torch.einsum("bkd,bd->bk", xs, ws) + noise
        return xs, ys, ws

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys, _ = self.batch(step)
        return xs, ys
