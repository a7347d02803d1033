"""The pretrained transformer (PT): a GPT-2 style decoder over interleaved (x, y) tokens.

Sequence encoding, as in the official code: 2K tokens of width D+1,
x-token = (0, x_1..x_D), y-token = (y, 0..0), interleaved x_1, y_1, x_2, y_2, ...
The prediction for y_k is read at the x_k token, so causal attention guarantees it
sees only x_1, y_1, ..., y_{k-1}, x_k.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    n_dims: int          # D
    n_points: int        # K (the model has 2K positions)
    n_layer: int = 8
    n_embd: int = 128
    n_head: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))                                  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)     # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ICLTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.read_in = nn.Linear(cfg.n_dims + 1, cfg.n_embd, bias=False)
        self.wpe = nn.Embedding(2 * cfg.n_points, cfg.n_embd)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.read_out = nn.Linear(cfg.n_embd, 1, bias=False)
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled down by sqrt(2 * n_layer).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @staticmethod
    def tokens(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """(N, K, D), (N, K) -> interleaved tokens (N, 2K, D+1)."""
        N, K, D = xs.shape
        x_tok = F.pad(xs, (1, 0))                                      # (N, K, D+1), y-slot 0
        y_tok = F.pad(ys.unsqueeze(-1), (0, D))                        # (N, K, D+1), x-slots 0
        return torch.stack((x_tok, y_tok), dim=2).view(N, 2 * K, D + 1)

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """Predictions (N, K): entry k is read at the x_k token."""
        z = self.tokens(xs, ys)
        T = z.shape[1]
        if T > self.wpe.num_embeddings:
            raise ValueError(f"sequence of {T // 2} examples exceeds the model's K = {self.cfg.n_points}")
        h = self.read_in(z) + self.wpe(torch.arange(T, device=z.device))
        for block in self.h:
            h = block(h)
        return self.read_out(self.ln_f(h))[:, ::2, 0]

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay only the weight matrices inside the transformer blocks
        (not biases, LayerNorms, positions, read-in or read-out)."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            (decay if is_decayed(name, p) else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]


def is_decayed(name: str, p: torch.Tensor) -> bool:
    return name.startswith("h.") and name.endswith(".weight") and p.dim() == 2


def build_model(model_cfg: ModelConfig, seed: int) -> ICLTransformer:
    """The initial model, a pure function of (config, seed)."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return ICLTransformer(model_cfg)
    finally:
        torch.random.set_rng_state(gen_state)


def load_pretrained(path, map_location="cpu") -> ICLTransformer:
    """The trained model of a final checkpoint (`model.pt`), in eval mode.

    Loaded with weights_only=True: a checkpoint can hold tensors and plain data only,
    never code.
    """
    from .checkpoint import load_checkpoint
    ckpt = load_checkpoint(path, map_location=map_location)
    if "diverged" in ckpt:        # a learning-rate candidate that diverged (train.diverged_outputs)
        raise ValueError(f"{path} holds no trained weights: {ckpt['diverged']}")
    model = ICLTransformer(ModelConfig(**ckpt["model_config"]))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise ValueError(f"checkpoint {path} does not match its own model config: {e}") from e
    return model.eval()
