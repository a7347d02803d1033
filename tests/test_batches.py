"""Training batches made on the device: a pure function of (seed, replicate, step),
with the distribution the problem defines."""
import numpy as np
import pytest
import torch

from icl_diversity.batches import BatchStream, batch_seed
from icl_diversity.tasks import task_pool

POOL = task_pool(4, 3, seed=0)


def stream(pool=POOL, replicate=0, seed=11, batch_size=16, **kw):
    return BatchStream(batch_size, 3, 8, 0.25, seed, pool, replicate=replicate, **kw)


def test_a_batch_depends_only_on_seed_replicate_and_step():
    a, b = stream(), stream()
    first = {step: a.batch(step) for step in (5, 0, 7)}
    for step in (7, 5, 0, 5):       # in another order, after any other step
        assert all(torch.equal(x, y) for x, y in zip(first[step], b.batch(step)))
    assert not torch.allclose(a(5)[0], a(6)[0])
    assert not torch.allclose(stream(seed=12)(5)[0], a(5)[0])
    r1, again = stream(replicate=1), stream(replicate=1)
    assert torch.equal(r1(5)[0], again(5)[0])
    assert not torch.allclose(r1(5)[0], a(5)[0]) and not torch.allclose(r1(5)[1], a(5)[1])
    # replicate r at step s is not replicate s at step r (the key is ordered)
    assert not torch.allclose(stream(replicate=3)(2)[0], stream(replicate=2)(3)[0])
    assert len({batch_seed(11, r, s) for r in range(20) for s in range(50)}) == 1000


def test_batches_follow_the_problem_distribution():
    """Moments of many sequences against the definitions: x ~ N(0, x_scale^2), w from
    the pool (uniformly) or N(0, task_scale^2), y = w.x + N(0, noise_var)."""
    s = BatchStream(4096, 3, 8, 0.25, 11, POOL, x_scale=2.0)
    xs, ys, ws = s.batch(0)
    assert xs.shape == (4096, 8, 3) and ys.shape == (4096, 8) and ws.shape == (4096, 3)
    assert xs.std().item() == pytest.approx(2.0, rel=0.02)
    noise = ys.double() - torch.einsum("bkd,bd->bk", xs.double(), ws.double())
    assert noise.var().item() == pytest.approx(0.25, rel=0.03) and abs(noise.mean().item()) < 0.01
    rows = {tuple(w) for w in ws.numpy()}
    assert rows == {tuple(w) for w in POOL}                         # every pool task, only those
    counts = np.unique(ws.numpy(), axis=0, return_counts=True)[1]
    assert counts.min() > 4096 / 4 * 0.85                          # roughly uniform
    fresh = BatchStream(4096, 3, 8, 0.25, 11, None, task_scale=3.0)
    xs, ys, ws = fresh.batch(0)
    assert len(np.unique(ws.numpy(), axis=0)) == 4096                # a new task per sequence
    assert ws.std().item() == pytest.approx(3.0, rel=0.03)


def test_keys_must_be_non_negative():
    with pytest.raises(ValueError, match="non-negative"):
        batch_seed(-1, 0, 0)
