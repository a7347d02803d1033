"""The transformer: causality, the token layout, the init, the decay mask, checkpoints."""
import numpy as np
import pytest
import torch

from icl_diversity.checkpoint import load_checkpoint, save_checkpoint
from icl_diversity.model import ICLTransformer, ModelConfig, build_model, is_decayed, load_pretrained
from icl_diversity.train import final_checkpoint

CFG = ModelConfig(n_dims=3, n_points=6, n_layer=2, n_embd=16, n_head=2)


def test_tokens_interleave_x_and_y():
    xs = torch.arange(2 * 2 * 3, dtype=torch.float32).view(2, 2, 3) + 1
    ys = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    z = ICLTransformer.tokens(xs, ys)
    assert z.shape == (2, 4, 4)
    torch.testing.assert_close(z[0, 0], torch.tensor([0.0, 1, 2, 3]))     # x_1 = (0, x)
    torch.testing.assert_close(z[0, 1], torch.tensor([10.0, 0, 0, 0]))    # y_1 = (y, 0)
    torch.testing.assert_close(z[1, 3], torch.tensor([40.0, 0, 0, 0]))


@pytest.mark.parametrize("k", range(6))
def test_prediction_k_never_sees_y_k_or_later(k):
    model = build_model(CFG, seed=0).eval()
    g = torch.Generator().manual_seed(k)
    xs, ys = torch.randn(4, 6, 3, generator=g), torch.randn(4, 6, generator=g)
    base = model(xs, ys)
    xs2, ys2 = xs.clone(), ys.clone()
    ys2[:, k:] += 5.0                 # y_k and everything after it
    xs2[:, k + 1:] -= 3.0             # x_{k+1} and later
    changed = model(xs2, ys2)
    torch.testing.assert_close(changed[:, :k + 1], base[:, :k + 1], rtol=0, atol=1e-6)
    if k + 1 < 6:                      # the check can fail: later positions do move
        assert (changed[:, k + 1:] - base[:, k + 1:]).abs().max() > 1e-3


def test_output_shape_and_parameter_count():
    base = ICLTransformer(ModelConfig(n_dims=8, n_points=16, n_layer=8, n_embd=128, n_head=2))
    n = sum(p.numel() for p in base.parameters())
    assert 1.5e6 < n < 1.7e6          # the paper's base model: about 1.6M parameters
    assert build_model(CFG, 0)(torch.randn(5, 6, 3), torch.randn(5, 6)).shape == (5, 6)


def test_init_follows_gpt2():
    model = ICLTransformer(ModelConfig(n_dims=4, n_points=16, n_layer=4, n_embd=128, n_head=2))
    std = {n: p.std().item() for n, p in model.named_parameters()}
    assert abs(std["h.0.attn.c_attn.weight"] - 0.02) < 0.002
    assert abs(std["h.0.mlp.c_proj.weight"] - 0.02 / np.sqrt(8)) < 0.001
    assert abs(std["wpe.weight"] - 0.02) < 0.003
    assert model.read_in.bias is None and model.read_out.bias is None
    assert torch.all(model.h[0].attn.c_attn.bias == 0)


def test_init_is_a_function_of_the_seed():
    a, b, c = build_model(CFG, 1), build_model(CFG, 1), build_model(CFG, 2)
    for (n, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.read_in.weight, c.read_in.weight)


def test_decay_mask_covers_exactly_the_block_weight_matrices():
    model = build_model(CFG, 0)
    decayed = {n for n, p in model.named_parameters() if is_decayed(n, p)}
    expected = {f"h.{i}.{m}.weight" for i in range(CFG.n_layer)
                for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
    assert decayed == expected
    groups = model.param_groups(0.1)
    assert groups[0]["weight_decay"] == 0.1 and len(groups[0]["params"]) == len(expected)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_checkpoint_round_trip_reproduces_predictions(tmp_path):
    model = build_model(CFG, 3).eval()
    path = tmp_path / "model.pt"
    save_checkpoint(path, final_checkpoint(model, {"note": "test"}))
    loaded = load_pretrained(path)
    assert not loaded.training
    xs, ys = torch.randn(7, 6, 3), torch.randn(7, 6)
    assert torch.equal(loaded(xs, ys), model(xs, ys))


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_pretrained(bad)
    with pytest.raises(FileNotFoundError):
        load_pretrained(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(foreign)


def _flip_a_weight_byte(path, tensor):
    """Flip one byte inside `tensor`'s data in a saved archive (located by its bytes)."""
    raw = bytearray(path.read_bytes())
    needle = tensor.detach().contiguous().numpy().tobytes()[:32]
    at = raw.find(needle)
    assert at > 0, "tensor data not found in the archive"
    raw[at + 5] ^= 0x10
    path.write_bytes(bytes(raw))


def test_a_flipped_byte_in_a_final_model_is_detected(tmp_path):
    model = build_model(CFG, seed=0)
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"model": model.state_dict(), "model_config": CFG.to_dict()})
    load_pretrained(path)                          # intact: loads
    # torch.load alone does not notice: the archive still opens
    _flip_a_weight_byte(path, model.h[0].mlp.c_fc.weight)
    torch.load(path, weights_only=True)
    with pytest.raises(ValueError, match="checksum"):
        load_pretrained(path)


def test_truncated_checkpoint_is_refused_by_name(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"model": build_model(CFG, 0).state_dict(), "model_config": CFG.to_dict()})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="model.pt"):
        load_pretrained(path)


def test_checkpoints_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))
    path = tmp_path / "evil.pt"
    torch.save({"model": Evil(), "model_config": {}}, path)
    with pytest.raises(ValueError, match="unsafe"):
        load_checkpoint(path)
