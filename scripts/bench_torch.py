#!/usr/bin/env python3
"""PyTorch reference for QKLab's training benchmark (optional; the Swift tests never need it).

What it measures: tokens/s of real training steps of the benchmark models S and M, with QK-Norm
on (`head`) and off, built exactly as docs/spec/model.md describes them in the layout qklab-bench
uses: pre-norm blocks, RMSNorm (eps 1e-6, float32), QK-Norm per head (`q_norm` / `k_norm`
weights of shape [Dh] shared by all heads, applied before RoPE) or none, RoPE in the
Hugging Face rotate_half convention (theta 10000), causal attention scaled by 1/sqrt(Dh)
(F.scaled_dot_product_attention with is_causal=True), SwiGLU MLP with F = round_up(8d/3, 32),
tied embeddings, vocabulary 65, no biases; init N(0, 0.02), o_proj and down_proj
N(0, 0.02 / sqrt(2L)), norm weights 1.

One step is what qklab-bench times: draw a batch of random tokens (seeded generator), zero the
gradients, forward, mean cross-entropy, backward, clip_grad_norm_(1.0), and
AdamW(lr 1e-3, betas (0.9, 0.99), eps 1e-8, weight_decay 0.1 on 2-D weights only, i.e. the
matrices and the tied embedding, never the norm weights). After `--warmup` untimed steps
(which also absorb torch.compile's compilation), `--steps` steps are timed one by one;
the line printed per config and qk_norm value has qklab-bench's format,

      S qk_norm=head   12435 tok/s (min 12035, max 12674)    65.4 GFLOP/s  peak RSS 784 MB

median / min / max over the timed steps (the median is the upper middle of the sorted rates,
as in qklab-bench), then model GFLOP/s counted as qklab-bench counts them (6 FLOPs per matrix
parameter per token plus 12·T·Dh·H·L per token for attention's two full T×T products) and the
process's peak RSS so far. There is no MFU column: this script has no sgemm peak of its own
(take the one qklab-bench prints).

Configs: S  d=128, L=4, H=4, T=64,  B=12  (0.81M parameters)
         M  d=384, L=6, H=6, T=256, B=16  (10.6M parameters)

Install (CPU is enough; a venv keeps torch out of the system Python):

    python3 -m venv ~/.venvs/qklab-torch           # outside the repository
    ~/.venvs/qklab-torch/bin/pip install torch     # PyPI's default wheel is the CUDA build;
                                                   # it runs on CPU too (about 5 GB with its
                                                   # CUDA libraries; a smaller CPU-only wheel:
                                                   # --index-url https://download.pytorch.org/whl/cpu)

`--compile` additionally needs a C++ compiler (g++) for TorchInductor's CPU code.

Run side by side with the Swift benchmark, same sizes and step counts, same thread count
(qklab-bench runs OpenBLAS, libxsmm and its own loops on all cores; this project's machine has 2):

    bash scripts/bench.sh --steps 10                         # Swift: sgemm peak, ops, S and M
    ~/.venvs/qklab-torch/bin/python scripts/bench_torch.py --steps 10 --threads 2
    ~/.venvs/qklab-torch/bin/python scripts/bench_torch.py --only S --compile

Options: --only S|M, --steps N (timed, default 10), --warmup N (default 3), --compile
(torch.compile the model), --threads N (torch.set_num_threads, default 2), --seed N.
Run nothing else heavy at the same time: with 2 cores, any other load shows up in the numbers.
"""

import argparse
import math
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 65
NORM_EPS = 1e-6
ROPE_THETA = 10000.0

# name, B, T, d, H, L — the sizes of Sources/qklab-bench/main.swift
SIZES = [("S", 12, 64, 128, 4, 4), ("M", 16, 256, 384, 6, 6)]


def round_up(x, m):
    return (x + m - 1) // m * m


def rms_norm(x, weight):
    """y = x / sqrt(mean(x²) + eps) · w over the last axis, in float32."""
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, (x.shape[-1],), weight, NORM_EPS)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * weight


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return rms_norm(x, self.weight)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, d, n_head, qk_norm):
        super().__init__()
        self.n_head, self.head_dim = n_head, d // n_head
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.qk_norm = qk_norm
        if qk_norm == "head":
            self.q_norm = RMSNorm(self.head_dim)   # one [Dh] weight, shared by all heads
            self.k_norm = RMSNorm(self.head_dim)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        shape = (b, t, self.n_head, self.head_dim)
        q = self.q_proj(x).view(shape)
        k = self.k_proj(x).view(shape)
        v = self.v_proj(x).view(shape)
        if self.qk_norm == "head":                 # the norm comes before RoPE
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B,H,T,Dh]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)         # scale 1/sqrt(Dh)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.gate_proj = nn.Linear(d, d_ff, bias=False)
        self.up_proj = nn.Linear(d, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, d, n_head, d_ff, qk_norm):
        super().__init__()
        self.input_layernorm = RMSNorm(d)
        self.self_attn = Attention(d, n_head, qk_norm)
        self.post_attention_layernorm = RMSNorm(d)
        self.mlp = MLP(d, d_ff)

    def forward(self, x, cos, sin):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return h + self.mlp(self.post_attention_layernorm(h))


class Model(nn.Module):
    """Pre-norm, RoPE, SwiGLU, tied embeddings; parameter names as Qwen3 / Llama."""

    def __init__(self, d, n_layer, n_head, block_size, qk_norm):
        super().__init__()
        self.d_ff = round_up(8 * d // 3 + (8 * d % 3 > 0), 32)   # round_up(ceil(8d/3), 32)
        self.embed_tokens = nn.Embedding(VOCAB, d)
        self.layers = nn.ModuleList(Block(d, n_head, self.d_ff, qk_norm) for _ in range(n_layer))
        self.norm = RMSNorm(d)
        head_dim = d // n_head
        inv_freq = ROPE_THETA ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        angle = torch.outer(torch.arange(block_size, dtype=torch.float64), inv_freq)
        angle = torch.cat((angle, angle), dim=-1)                      # element i pairs with i+Dh/2
        self.register_buffer("cos", angle.cos().float(), persistent=False)
        self.register_buffer("sin", angle.sin().float(), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        t = idx.shape[1]
        cos, sin = self.cos[:t], self.sin[:t]
        x = self.embed_tokens(idx)
        for layer in self.layers:
            x = layer(x, cos, sin)
        logits = F.linear(self.norm(x), self.embed_tokens.weight)      # tied head
        return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def step_flops(model, block_size, n_head, n_layer, tokens):
    """qklab-bench's count: 6 per matrix parameter per token + 12·T·Dh·H·L per token."""
    matrices = sum(p.numel() for p in model.parameters() if p.dim() == 2)
    head_dim = model.embed_tokens.weight.shape[1] // n_head
    return tokens * (6.0 * matrices + 12.0 * block_size * head_dim * n_head * n_layer)


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def bench(size, qk_norm, args):
    name, b, t, d, n_head, n_layer = size
    torch.manual_seed(args.seed)
    model = Model(d, n_layer, n_head, t, qk_norm)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
    loss_fn = torch.compile(model) if args.compile else model
    gen = torch.Generator().manual_seed(args.seed + 1)

    def step():
        tokens = torch.randint(0, VOCAB, (b, t + 1), generator=gen)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(tokens[:, :-1], tokens[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        loss = step()
    warmup_seconds = time.perf_counter() - t0
    seconds = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        seconds.append(time.perf_counter() - t0)
    loss = loss.item()
    if not math.isfinite(loss):
        sys.exit(f"{name} qk_norm={qk_norm}: non-finite loss {loss}")
    tokens = b * t
    rates = sorted(tokens / s for s in seconds)
    median = rates[len(rates) // 2]
    gflops = step_flops(model, t, n_head, n_layer, tokens) * median / tokens / 1e9
    print(f"  {name} qk_norm={qk_norm:<4} {median:7.0f} tok/s (min {rates[0]:.0f}, max {rates[-1]:.0f})"
          f"  {gflops:6.1f} GFLOP/s  peak RSS {peak_rss_mb():.0f} MB", flush=True)
    if args.compile:
        print(f"      warm-up incl. compile {warmup_seconds:.1f} s, last loss {loss:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["S", "M"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--steps and --threads must be ≥ 1, --warmup ≥ 0")
    # QKLab flushes subnormal numbers to zero (SubnormalFlush: FTZ/DAZ on its threads); so does
    # this side (set before the thread pool starts, whose threads take the setting with them), or
    # a run that meets subnormals would pay the CPU's slow path for each of them.
    flushing = torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)

    sizes = [s for s in SIZES if args.only is None or s[0] == args.only]
    print(f"PyTorch {torch.__version__} on {platform.machine()}, {torch.get_num_threads()} threads, "
          f"{'torch.compile' if args.compile else 'eager'}, subnormals {'flushed' if flushing else 'NOT flushed (no CPU support)'}")
    for name, b, t, d, n_head, n_layer in sizes:
        m = Model(d, n_layer, n_head, t, "head")
        count = sum(p.numel() for p in m.parameters())
        print(f"  {name}: B={b} T={t} d={d} H={n_head} L={n_layer} F={m.d_ff} V={VOCAB} "
              f"({count / 1e6:.2f}M parameters with QK-Norm)")
    print(f"\nTraining steps ({args.steps} timed after {args.warmup} warm-up)")
    for size in sizes:
        for qk_norm in ("head", "off"):
            bench(size, qk_norm, args)


if __name__ == "__main__":
    main()
