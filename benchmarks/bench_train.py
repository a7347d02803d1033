"""Training throughput of the workflow's transformer against a plain reference
implementation (nn.MultiheadAttention / nn.TransformerEncoderLayer-style blocks of
the same size), in one process on the same data. Prints medians and the ratio.

    .venv/bin/python benchmarks/bench_train.py                       # base model, batch 256
    .venv/bin/python benchmarks/bench_train.py --model 4 32 2 --batch 64 --D 4
    .venv/bin/python benchmarks/bench_train.py --model 4 32 2 --batch 64 --D 4 --side-by-side

--side-by-side compares, for the workflow's model only, one job with 2 threads against
two 1-thread jobs running at the same time (total steps/s of the machine).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from icl_diversity.model import ICLTransformer, ModelConfig
from icl_diversity.batches import BatchStream


class ReferenceBlock(nn.Module):
    """Pre-LN block with nn.MultiheadAttention and an explicit causal mask."""

    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = nn.MultiheadAttention(n_embd, n_head, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * n_embd, n_embd))

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class ReferenceModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        T = 2 * cfg.n_points
        self.read_in = nn.Linear(cfg.n_dims + 1, cfg.n_embd, bias=False)
        self.wpe = nn.Embedding(T, cfg.n_embd)
        self.blocks = nn.ModuleList(ReferenceBlock(cfg.n_embd, cfg.n_head) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.read_out = nn.Linear(cfg.n_embd, 1, bias=False)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, xs, ys):
        z = ICLTransformer.tokens(xs, ys)
        h = self.read_in(z) + self.wpe(torch.arange(z.shape[1]))
        for b in self.blocks:
            h = b(h, self.mask)
        return self.read_out(self.ln_f(h))[:, ::2, 0]


def steps_per_second(model, batches, warmup=3, bf16=False):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    device = next(model.parameters()).device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    def step(xs, ys):
        with autocast:
            loss = F.mse_loss(model(xs, ys).float(), ys)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    for xs, ys in batches[:warmup]:
        step(xs, ys)
    sync()
    t = time.perf_counter()
    for xs, ys in batches[warmup:]:
        step(xs, ys)
    sync()
    return (len(batches) - warmup) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs=3, type=int, default=[8, 128, 2], metavar=("LAYERS", "EMBD", "HEADS"))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--D", type=int, default=8)
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side-by-side", action="store_true")
    ap.add_argument("--device", default="cpu", help="e.g. cuda")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast (as train.bf16 does on CUDA)")
    ap.add_argument("--only-workflow", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side_by_side:
        return side_by_side(args)
    torch.set_num_threads(args.threads)
    cfg = ModelConfig(args.D, args.K, *args.model)
    stream = BatchStream(args.batch, args.D, args.K, 0.25, 0, None, device=args.device)
    batches = [stream(s) for s in range(args.steps + 3)]
    torch.manual_seed(0)
    models = {"workflow (SDPA)": ICLTransformer(cfg).to(args.device),
              "reference (nn.MultiheadAttention)": ReferenceModel(cfg).to(args.device)}
    if args.only_workflow:
        print(f"RATE {statistics.median(steps_per_second(models['workflow (SDPA)'], batches, bf16=args.bf16) for _ in range(args.repeats))}")
        return
    rates = {name: [] for name in models}
    for _ in range(args.repeats):           # interleaved, so drift in machine load hits both
        for name, model in models.items():
            rates[name].append(steps_per_second(model, batches, bf16=args.bf16))
    print(f"model {args.model[0]}/{args.model[1]}/{args.model[2]}, batch {args.batch}, D={args.D}, "
          f"K={args.K}, {args.device}{' bf16' if args.bf16 else ''}, {args.threads} thread(s), {args.repeats} repeats x {args.steps} steps")
    med = {name: statistics.median(r) for name, r in rates.items()}
    for name, r in rates.items():
        print(f"  {name:36s} median {med[name]:7.2f} steps/s  (min {min(r):.2f}, max {max(r):.2f})")
    a, b = med.values()
    print(f"  ratio workflow / reference: {a / b:.2f}x")


def side_by_side(args):
    """Total throughput: one 2-thread process vs two 1-thread processes at once."""
    base = [sys.executable, __file__, "--only-workflow", "--model", *map(str, args.model),
            "--batch", str(args.batch), "--D", str(args.D), "--K", str(args.K),
            "--steps", str(args.steps), "--repeats", str(args.repeats)]

    def run(n_procs, threads):
        procs = [subprocess.Popen(base + ["--threads", str(threads)], stdout=subprocess.PIPE, text=True)
                 for _ in range(n_procs)]
        return [float(p.communicate()[0].split("RATE")[1]) for p in procs]
    one = run(1, 2)
    two = run(2, 1)
    print(f"model {args.model[0]}/{args.model[1]}/{args.model[2]}, batch {args.batch}, D={args.D}, "
          f"K={args.K}: median steps/s over {args.repeats} repeats x {args.steps} steps")
    print(f"  one job, 2 threads:        {one[0]:7.2f} steps/s in total")
    print(f"  two jobs, 1 thread each:   {sum(two):7.2f} steps/s in total ({two[0]:.2f} + {two[1]:.2f})")
    print(f"  ratio two 1-thread jobs / one 2-thread job: {sum(two) / one[0]:.2f}x")


if __name__ == "__main__":
    main()
