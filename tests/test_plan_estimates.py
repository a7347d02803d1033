"""The plan's compute estimate: FLOPs per step against torch's own count, rates estimated
by FLOPs for models never measured, and evaluation counted."""
import pandas as pd
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from icl_diversity import plan
from icl_diversity.model import ICLTransformer, ModelConfig

RATES = pd.DataFrame([
    dict(device="cpu", model="4/32/2", batch=64, steps_per_s=20.0, threads=1, measured_on="x", date="d", D=4, K=16),
    dict(device="cpu", model="8/128/2", batch=256, steps_per_s=1.0, threads=1, measured_on="x", date="d", D=8, K=16)])


@pytest.mark.parametrize("model,D,K", [((1, 16, 2), 3, 8), ((4, 32, 2), 4, 16), ((12, 256, 4), 16, 32)])
def test_forward_and_step_flops_are_what_torch_counts(model, D, K):
    """torch's counter sees the model's weight products (its fused CPU attention kernel it
    does not count); attention's two products are counted on them written out."""
    net = ICLTransformer(ModelConfig(D, K, *model))
    spec = dict(n_layer=model[0], n_embd=model[1], n_head=model[2])
    B, T, H = 4, 2 * K, model[2]
    xs, ys = torch.randn(B, K, D), torch.randn(B, K)
    with FlopCounterMode(display=False) as forward:
        net(xs, ys)
    assert forward.get_total_flops() / B == pytest.approx(plan.weight_flops(spec, D, K), rel=1e-9)
    q, k, v = (torch.randn(B, H, T, model[1] // H) for _ in range(3))
    with FlopCounterMode(display=False) as attention:
        for _ in range(model[0]):
            (q @ k.transpose(-2, -1)).softmax(-1) @ v
    assert attention.get_total_flops() / B == pytest.approx(plan.attention_flops(spec, K), rel=1e-9)
    with FlopCounterMode(display=False) as step:
        net(xs, ys).pow(2).mean().backward()
    assert step.get_total_flops() / B == pytest.approx(3 * plan.weight_flops(spec, D, K), rel=0.01)
    assert plan.step_flops(spec, B, D, K) == pytest.approx(3 * B * plan.forward_flops(spec, D, K))


def test_a_model_never_measured_gets_a_rate_from_the_nearest_measured_flops():
    large = dict(n_layer=12, n_embd=256, n_head=4)
    assert plan.rate_for(RATES, "cpu", large, 256) is None
    r = plan.estimated_rate(RATES, "cpu", large, 256, 8, 16)
    base = dict(n_layer=8, n_embd=128, n_head=2)
    want = 1.0 * plan.step_flops(base, 256, 8, 16) / plan.step_flops(large, 256, 8, 16)
    assert r.steps_per_s == pytest.approx(want) and "8/128/2" in r.note and "FLOPs" in r.note
    # a measured model keeps its measured (or batch-scaled) rate; a device without any rate has none
    assert plan.estimated_rate(RATES, "cpu", dict(n_layer=4, n_embd=32, n_head=2), 64, 4, 16) == plan.Rate(20.0, "")
    assert plan.estimated_rate(RATES, "cuda", large, 256, 8, 16) is None


def test_the_paper_study_gets_a_cpu_total_with_evaluation_counted():
    config = plan.load_config(plan.ROOT / "studies" / "paper.yaml")
    text = plan.plan(config, plan.load_rates())
    total = next(line for line in text.splitlines() if line.startswith("total (job time)"))
    assert total.split()[4] != "unmeasured"           # cpu: every model measured or estimated
    assert "estimated by FLOPs" in text
    # evaluation adds forward passes: the base model's 500K-step job takes longer than its steps
    base = dict(n_layer=8, n_embd=128, n_head=2)
    extra = plan.evaluation_flops(config, base, 500_000, 8, 16) / plan.step_flops(base, 256, 8, 16)
    assert 0 < extra < 500_000
