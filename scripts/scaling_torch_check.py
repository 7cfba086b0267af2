#!/usr/bin/env python3
"""Cross-check one point of the scaling sweep (issue 17) with an independent PyTorch implementation.

What it does: reads a QKLab run's resolved `config.toml` (a run folder, e.g. a sweep point
`runs/sweep-scaling/points/<point>/`, or the file itself), trains the PyTorch model of
scripts/bench_torch.py (its RMSNorm and SwiGLU MLP, with an attention that also measures its
logits) on exactly that spec, and classifies the outcome as `qklab sweep` does:

    diverged  a non-finite loss or gradient norm (QKLab's on_nonfinite = "stop" ends the run there)
    failed    the final validation loss is above the corpus's bigram loss (Wortsman et al. 2023)
    learned   neither (the word `qklab sweep` prints)

Seed for seed: the run is QKLab's run, not merely one with the same settings. The initial
weights come from a port of QKLab's generator (xoshiro256** seeded by SplitMix64,
Sources/Autograd/SeededRandom.swift; Box–Muller normals in Double rounded to Float) drawn
in QKLab's parameter order from `model.seed`; the training windows from the same generator
seeded with `train.seed` (BatchSampler.swift); the vocabulary, the train/validation split and
the fixed evaluation windows as Sources/Training/Data builds them. So step 1 is the same
computation in both (its loss agrees to float32 rounding, checked below); after it only
summation order differs, and at high learning rates that difference grows.

The spec (docs/spec/model.md): pre-norm blocks, RMSNorm (eps 1e-6, float32), QK-Norm per
head (before RoPE) or none, RoPE (rotate_half), causal attention scaled by 1/sqrt(Dh), SwiGLU,
tied embeddings, loss = CE + z_loss · mean(logsumexp²); AdamW (β1, β2, eps from the config,
bias-corrected) with weight decay on 2-D weights only, `independent` decay p ← p·(1 − lr(s)/lr·wd)
done as PyTorch's coupled decay with wd/lr; global-norm clipping; linear warmup then cosine to
min_lr. Other layouts (post-norm, full QK-Norm, learned positions, GELU, …) are refused.

Logged on step 1 and every `train.log_interval` steps (as QKLab): loss, ce_loss, lr, grad_norm
(before clipping), attn_logit_max (per layer, max |q·k/√Dh| over the kept causal pairs, all heads,
the whole batch), output_lse_mean (mean log Z). The validation loss is the mean cross-entropy
over the `train.eval_batches` fixed windows, every `train.eval_interval` steps and at the end.

Given a finished run folder, it prints QKLab and PyTorch side by side — step-1 loss, final
validation loss, outcome, the largest attention logit over the logged steps — and exits 0 when
the outcomes agree and the two logit maxima are within a factor 10, 1 otherwise (2: bad input,
with one line on stderr). Given only a config file, it trains and prints PyTorch's column.

Install (a CPU wheel is enough; the venv lives outside the repository):

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install --no-deps torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl   # a local wheel, or:
    /tmp/torchenv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    /tmp/torchenv/bin/pip install numpy typing_extensions sympy networkx jinja2 filelock fsspec

Run from the directory QKLab ran in (the config's data.path is relative to it) or pass --data:

    OMP_NUM_THREADS=1 nice -n 19 /tmp/torchenv/bin/python scripts/scaling_torch_check.py \\
        "runs/sweep-scaling/points/lr=0.3,qk_norm=off,size=d32l1,seed=0"
    ... scripts/scaling_torch_check.py RUN_DIR --step1-only     # the seed-for-seed check alone
    ... scripts/scaling_torch_check.py path/to/config.toml --metrics torch.jsonl

Options: --data FILE (corpus instead of the config's data.path), --threads N (default 1),
--metrics FILE (write PyTorch's log lines as JSONL, QKLab's keys), --step1-only, --quiet.
"""

import argparse
import json
import math
import os
import re
import sys
import time
import tomllib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import MLP, NORM_EPS, RMSNorm, rotate_half   # noqa: E402  (the benchmark's PyTorch model)

LOGIT_RATIO_LIMIT = 10.0       # "logit magnitude within an order"
MASK64 = (1 << 64) - 1


class CheckError(Exception):
    """Bad input: printed as one line, exit status 2."""


# ---------------------------------------------------------------- QKLab's generator (SeededRandom.swift)

class SeededRandom:
    """xoshiro256** seeded through SplitMix64, exactly as QKLab's `SeededRandom`."""

    def __init__(self, seed):
        split_mix = seed & MASK64
        self.state = []
        for _ in range(4):
            split_mix = (split_mix + 0x9E3779B97F4A7C15) & MASK64
            z = split_mix
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.state.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s = self.state
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def next_uniform(self):
        """Uniform in [0, 1) from the top 53 bits."""
        return (self.next() >> 11) * 2.0 ** -53

    def next_int(self, bound):
        """Uniform in 0..<bound: the high word of next() · bound (Lemire)."""
        return (self.next() * bound) >> 64

    def next_normal(self, std):
        """Box–Muller in Double, one sample per call (math.log/cos: the C library, as Swift's)."""
        u1 = 1 - self.next_uniform()
        u2 = self.next_uniform()
        return 0.0 + std * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


# ---------------------------------------------------------------- the spec (a resolved config.toml)

SUPPORTED = {"block_norm": "pre", "position": "rope", "mlp": "swiglu", "norm_weight": "plain",
             "embed_scale": False, "tie_embeddings": True, "rope_fraction": 1.0}
REQUIRED = {
    "model": ["block_size", "d_model", "n_layer", "n_head", "qk_norm", "rope_theta", "norm_eps", "z_loss", "seed"],
    "data": ["path", "val_fraction"],
    "optim": ["lr", "warmup_steps", "beta1", "beta2", "eps", "weight_decay", "weight_decay_mode", "grad_clip"],
    "train": ["batch_size", "max_steps", "seed", "log_interval", "eval_interval", "eval_batches"],
}


def config_path_of(source):
    """`source` is a run folder (holding config.toml) or a config file."""
    if os.path.isdir(source):
        path = os.path.join(source, "config.toml")
        if not os.path.isfile(path):
            raise CheckError(f"{source}: no config.toml in this folder (expected a QKLab run folder)")
        return path
    if os.path.isfile(source):
        return source
    raise CheckError(f"{source}: no such run folder or config file")


def load_spec(path):
    """The resolved config as {section: {key: value}}, checked for what this model implements."""
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CheckError(f"{path}: cannot read the config ({error})")
    for section, keys in REQUIRED.items():
        for key in keys:
            if key not in spec.get(section, {}):
                raise CheckError(f"{path}: missing key [{section}] {key} (give a run's resolved config.toml)")
    model = spec["model"]
    for key, value in SUPPORTED.items():
        if model.get(key, value) != value:
            raise CheckError(f"{path}: model.{key} = {model[key]!r} is not modelled here (only {key} = {value!r})")
    if abs(model["norm_eps"] - NORM_EPS) > 1e-12:
        raise CheckError(f"{path}: model.norm_eps = {model['norm_eps']} is not modelled here (only 1e-6, bench_torch's)")
    if model["qk_norm"] not in ("off", "head"):
        raise CheckError(f"{path}: model.qk_norm = {model['qk_norm']!r} is not modelled here (off or head)")
    head_dim = model.get("head_dim", model["d_model"] // model["n_head"])
    if model.get("n_kv_head", model["n_head"]) != model["n_head"] or head_dim * model["n_head"] != model["d_model"]:
        raise CheckError(f"{path}: only n_kv_head = n_head and head_dim = d_model / n_head are modelled here")
    if spec["optim"]["weight_decay_mode"] not in ("coupled", "independent"):
        raise CheckError(f"{path}: unknown optim.weight_decay_mode {spec['optim']['weight_decay_mode']!r}")
    if spec["train"]["eval_interval"] < 1:
        raise CheckError(f"{path}: train.eval_interval is 0; the outcome needs a final validation loss")
    if spec["train"].get("on_nonfinite", "stop") != "stop":
        raise CheckError(f"{path}: only train.on_nonfinite = \"stop\" is modelled here")
    return spec


def recorded_fingerprint(path):
    """(bytes, FNV-1a 64) from config.toml's corpus comment, or None."""
    with open(path, encoding="utf-8") as f:
        match = re.search(r"^# corpus .*: (\d+) bytes, FNV-1a 64 ([0-9a-f]{16})", f.read(), re.MULTILINE)
    return (int(match.group(1)), match.group(2)) if match else None


# ---------------------------------------------------------------- data (Sources/Training/Data)

def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return f"{h:016x}"


def load_corpus(path, val_fraction, fingerprint):
    """Vocabulary (sorted code points), training and validation ids, as QKLab's `Corpus`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise CheckError(f"corpus {path}: {error.strerror} (data.path is relative to the directory "
                         f"QKLab ran in; run from there or pass --data)")
    if fingerprint and (len(data), fnv1a64(data)) != fingerprint:
        raise CheckError(f"corpus {path}: {len(data)} bytes, FNV-1a 64 {fnv1a64(data)}, not the run's "
                         f"{fingerprint[0]} bytes, {fingerprint[1]}")
    text = data.decode("utf-8")
    vocabulary = sorted(set(text))
    index = {c: i for i, c in enumerate(vocabulary)}
    tokens = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    train_count = math.floor(len(tokens) * (1 - val_fraction))
    return vocabulary, tokens[:train_count], tokens[train_count:]


def bigram_loss(train, validation, vocab_size):
    """Validation CE of an add-one-smoothed bigram model fitted on the training split (BigramLoss.swift)."""
    pairs = np.bincount(train[:-1] * vocab_size + train[1:], minlength=vocab_size ** 2).reshape(vocab_size, vocab_size)
    firsts = pairs.sum(axis=1)
    a, b = validation[:-1], validation[1:]
    return float(-np.mean(np.log((pairs[a, b] + 1) / (firsts[a] + vocab_size))))


def training_offsets(sampler, n_tokens, batch_size, block_size):
    """BatchSampler.next: `batch_size` uniform window starts."""
    starts = n_tokens - block_size
    return [sampler.next_int(starts) for _ in range(batch_size)]


def evaluation_offsets(n_tokens, count, batch_size, block_size):
    """BatchSampler.evaluationBatches: `count` batches of windows spread evenly over the split."""
    starts, windows = n_tokens - block_size, count * batch_size
    return [[((k * batch_size + i) * starts) // windows for i in range(batch_size)] for k in range(count)]


def windows(tokens, offsets, block_size):
    """Inputs and targets [B, T] of the windows starting at `offsets`."""
    rows = np.stack([tokens[o:o + block_size + 1] for o in offsets])          # [B, T+1]
    rows = torch.from_numpy(rows)
    return rows[:, :-1], rows[:, 1:]


# ---------------------------------------------------------------- the model (bench_torch.py's, measuring)

class Attention(nn.Module):
    """project → QK-Norm → RoPE → causal softmax(q·kᵀ/√Dh)·v → o_proj; keeps max |score| of kept pairs."""

    def __init__(self, d, n_head, qk_norm):
        super().__init__()
        self.n_head, self.head_dim = n_head, d // n_head
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.qk_norm = qk_norm
        if qk_norm == "head":
            self.q_norm = RMSNorm(self.head_dim)      # one [Dh] weight, shared by all heads
            self.k_norm = RMSNorm(self.head_dim)
        self.logit_max = None

    def forward(self, x, cos, sin, causal):
        b, t, _ = x.shape
        shape = (b, t, self.n_head, self.head_dim)
        q, k, v = self.q_proj(x).view(shape), self.k_proj(x).view(shape), self.v_proj(x).view(shape)
        if self.qk_norm == "head":                    # before RoPE
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B,H,T,Dh]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)           # [B,H,T,T]
        self.logit_max = scores.detach().abs().masked_fill(~causal, 0).amax()
        p = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        y = (p @ v).transpose(1, 2).reshape(b, t, -1)                         # [B,T,d]
        return self.o_proj(y)


class Block(nn.Module):
    def __init__(self, d, n_head, d_ff, qk_norm):
        super().__init__()
        self.input_layernorm = RMSNorm(d)
        self.self_attn = Attention(d, n_head, qk_norm)
        self.post_attention_layernorm = RMSNorm(d)
        self.mlp = MLP(d, d_ff)

    def forward(self, x, cos, sin, causal):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, causal)
        return h + self.mlp(self.post_attention_layernorm(h))


class Model(nn.Module):
    """Pre-norm, RoPE, SwiGLU, tied embeddings; parameters named and ordered as QKLab's."""

    def __init__(self, vocab_size, m):
        super().__init__()
        d, n_layer, n_head, block_size = m["d_model"], m["n_layer"], m["n_head"], m["block_size"]
        d_ff = m.get("d_ff", (8 * d // 3 + 31) // 32 * 32)
        self.embed_tokens = nn.Embedding(vocab_size, d)
        self.layers = nn.ModuleList(Block(d, n_head, d_ff, m["qk_norm"]) for _ in range(n_layer))
        self.norm = RMSNorm(d)
        head_dim = d // n_head
        inv_freq = m["rope_theta"] ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        angle = torch.outer(torch.arange(block_size, dtype=torch.float64), inv_freq)
        angle = torch.cat((angle, angle), dim=-1)                          # element i pairs with i+Dh/2
        self.register_buffer("cos", angle.cos().float(), persistent=False)
        self.register_buffer("sin", angle.sin().float(), persistent=False)
        self.register_buffer("causal", torch.ones(block_size, block_size, dtype=torch.bool).tril(), persistent=False)

    def forward(self, idx):
        """Logits [B,T,V] for ids [B,T]."""
        t = idx.shape[1]
        x = self.embed_tokens(idx)                                         # [B,T,d]
        for layer in self.layers:
            x = layer(x, self.cos[:t], self.sin[:t], self.causal[:t, :t])
        return F.linear(self.norm(x), self.embed_tokens.weight)           # [B,T,V], tied head

    def attention_logit_max(self):
        return [layer.self_attn.logit_max.item() for layer in self.layers]


def initialize_like_qklab(model, seed, n_layer):
    """N(0, 0.02) and N(0, 0.02/√(2L)) for o_proj, down_proj, drawn from one stream in QKLab's
    parameter order (embeddings; per layer q, k, v, o, [norms: ones], gate, up, down); stds in Float."""
    rng = SeededRandom(seed)
    std = float(np.float32(0.02))
    residual_std = float(np.float32(0.02) / np.sqrt(np.float32(2 * n_layer)))

    def fill(weight, std):
        values = [rng.next_normal(std) for _ in range(weight.numel())]
        with torch.no_grad():
            weight.copy_(torch.tensor(values, dtype=torch.float64).view_as(weight))   # rounds to Float

    fill(model.embed_tokens.weight, std)
    for layer in model.layers:
        attention, mlp = layer.self_attn, layer.mlp
        for linear, s in ((attention.q_proj, std), (attention.k_proj, std), (attention.v_proj, std),
                          (attention.o_proj, residual_std), (mlp.gate_proj, std), (mlp.up_proj, std),
                          (mlp.down_proj, residual_std)):
            fill(linear.weight, s)


# ---------------------------------------------------------------- loss, schedule, optimizer

def loss_terms(logits, targets, z_loss):
    """(objective = CE + z·mean(lse²), CE, lse [B·T])."""
    logits = logits.reshape(-1, logits.shape[-1])
    lse = torch.logsumexp(logits, dim=-1)
    ce = F.cross_entropy(logits, targets.reshape(-1))
    return ce + z_loss * (lse ** 2).mean(), ce, lse.detach()


def learning_rate(step, optim, max_steps):
    """Warmup to lr, cosine to min_lr at decay_steps, then min_lr (docs/spec/model.md)."""
    peak, warmup = optim["lr"], optim["warmup_steps"]
    floor, decay = optim.get("min_lr", peak / 10), optim.get("decay_steps", max_steps)
    if step <= warmup:
        return peak * step / warmup
    if step > decay:
        return floor
    return floor + 0.5 * (1 + math.cos(math.pi * (step - warmup) / (decay - warmup))) * (peak - floor)


def make_optimizer(model, optim):
    """AdamW with decay on 2-D weights; `independent` decay lr(s)/lr·wd is PyTorch's lr(s)·(wd/lr)."""
    wd = optim["weight_decay"] / optim["lr"] if optim["weight_decay_mode"] == "independent" else optim["weight_decay"]
    decayed = [p for p in model.parameters() if p.dim() == 2]
    others = [p for p in model.parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": wd}, {"params": others, "weight_decay": 0.0}],
                             lr=optim["lr"], betas=(optim["beta1"], optim["beta2"]), eps=optim["eps"])


# ---------------------------------------------------------------- training

@torch.no_grad()
def validation_loss(model, validation, batches, block_size):
    total = 0.0
    for offsets in batches:
        x, y = windows(validation, offsets, block_size)
        total += F.cross_entropy(model(x).flatten(0, 1), y.reshape(-1)).item()
    return total / len(batches)


def train(spec, vocab_size, train_tokens, validation, args):
    """Trains to max_steps (1 with --step1-only); returns {"log": [...], "val": {...}, "diverged": step|None}."""
    m, optim, t = spec["model"], spec["optim"], spec["train"]
    model = Model(vocab_size, m)
    initialize_like_qklab(model, m["seed"], m["n_layer"])
    optimizer = make_optimizer(model, optim)
    sampler = SeededRandom(t["seed"])
    eval_batches = evaluation_offsets(len(validation), t["eval_batches"], t["batch_size"], m["block_size"])
    max_steps = 1 if args.step1_only else t["max_steps"]
    history = {"log": [], "val": {}, "diverged": None}
    for step in range(1, max_steps + 1):
        lr = learning_rate(step, optim, t["max_steps"])
        x, y = windows(train_tokens, training_offsets(sampler, len(train_tokens), t["batch_size"], m["block_size"]),
                       m["block_size"])
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss, ce, lse = loss_terms(logits, y, m["z_loss"])
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), optim["grad_clip"]).item()
        logged = step == 1 or (t["log_interval"] > 0 and (step % t["log_interval"] == 0 or step == t["max_steps"]))
        finite = math.isfinite(loss.item()) and math.isfinite(grad_norm)
        if logged or not finite:
            record = {"step": step, "loss": loss.item(), "ce_loss": ce.item(), "lr": lr, "grad_norm": grad_norm,
                      "attn_logit_max": model.attention_logit_max(), "output_lse_mean": lse.mean().item(),
                      "output_logit_max": logits.detach().abs().max().item()}
            history["log"].append(record)
            report(record, args)
        if not finite:                                   # on_nonfinite = "stop": QKLab's "diverged"
            history["diverged"] = step
            break
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        if not args.step1_only and t["eval_interval"] > 0 and (step % t["eval_interval"] == 0 or step == t["max_steps"]):
            history["val"][step] = validation_loss(model, validation, eval_batches, m["block_size"])
            if not args.quiet:
                print(f"step {step:5d} | val_loss {history['val'][step]:.4f}", flush=True)
    return history


def report(record, args):
    if args.quiet:
        return
    logits = ", ".join(f"{v:.4g}" for v in record["attn_logit_max"])
    print(f"step {record['step']:5d} | loss {record['loss']:.6f} | lr {record['lr']:.3g} | grad {record['grad_norm']:.4g}"
          f" | attn_logit_max [{logits}] | output_lse_mean {record['output_lse_mean']:.3f}", flush=True)


def outcome(final_val_loss, bigram, diverged):
    if diverged or final_val_loss is None or not math.isfinite(final_val_loss):
        return "diverged"
    return "failed" if final_val_loss > bigram else "learned"


def largest_logit(log):
    values = [v for record in log for v in (record.get("attn_logit_max") or []) if v is not None]
    return max(values) if values else float("nan")


# ---------------------------------------------------------------- the QKLab side

def read_qklab_run(folder, max_steps, require_finished):
    """Step-1 record, final val loss, bigram loss, logged steps and diverged flag of a QKLab run folder."""
    path = os.path.join(folder, "metrics.jsonl")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):                      # a running run's last line may be half written
                raise CheckError(f"{path}: line {number} is not JSON")
    logs = [r for r in records if "loss" in r]
    vals = {r["step"]: r["val_loss"] for r in records if "val_loss" in r}
    bigram = next((r["bigram_loss"] for r in records if "bigram_loss" in r), None)
    diverged = any(r.get(key, 0) is None for r in logs for key in ("loss", "grad_norm"))
    if require_finished and not diverged and max_steps not in vals:
        last = max((r["step"] for r in records), default=0)
        raise CheckError(f"{folder}: the QKLab run has not finished (last step {last} of {max_steps})")
    step1 = next((r for r in logs if r["step"] == 1), None)
    return {"step1": step1, "final": vals.get(max_steps), "bigram": bigram, "log": logs, "diverged": diverged}


# ---------------------------------------------------------------- output

def print_step1(qklab, torch_record):
    print("\nstep 1 (same weights, same batch):")
    print(f"  {'':18} {'QKLab':>14} {'PyTorch':>14} {'|Δ|':>10}")
    for key in ("loss", "ce_loss", "grad_norm", "output_lse_mean"):
        a, b = qklab.get(key), torch_record[key]
        if a is not None:
            print(f"  {key:18} {a:14.7f} {b:14.7f} {abs(a - b):10.2e}")
    for i, (a, b) in enumerate(zip(qklab.get("attn_logit_max", []), torch_record["attn_logit_max"])):
        print(f"  {f'attn_logit_max[{i}]':18} {a:14.7f} {b:14.7f} {abs(a - b):10.2e}")


def shared_trajectory(qklab_log, torch_log, tolerance=1e-3):
    """The last logged step up to which the two training losses agree within `tolerance`."""
    theirs = {r["step"]: r["loss"] for r in qklab_log}
    last = 0
    for record in torch_log:
        step, loss = record["step"], record["loss"]
        if step in theirs:
            if theirs[step] is None or not abs(theirs[step] - loss) <= tolerance:
                break
            last = step
    return last


def print_table(name, qklab, mine):
    ratio = max(qklab["logit"], mine["logit"]) / min(qklab["logit"], mine["logit"])
    within = ratio <= LOGIT_RATIO_LIMIT
    print(f"\n{name}   (bigram loss {mine['bigram']:.4f}; the training losses agree within 1e-3 "
          f"through logged step {shared_trajectory(qklab['log'], mine['log'])})")
    print(f"  {'':26} {'QKLab':>14} {'PyTorch':>14}")
    print(f"  {'final val loss':26} {fmt(qklab['final']):>14} {fmt(mine['final']):>14}")
    print(f"  {'outcome':26} {qklab['outcome']:>14} {mine['outcome']:>14}   "
          f"{'agree' if qklab['outcome'] == mine['outcome'] else 'DIFFER'}")
    print(f"  {'max attn logit (logged)':26} {qklab['logit']:14.4g} {mine['logit']:14.4g}   "
          f"ratio {ratio:.2f} ({'within' if within else 'NOT within'} {LOGIT_RATIO_LIMIT:g}x)")
    return qklab["outcome"] == mine["outcome"] and within


def fmt(value):
    return "—" if value is None else f"{value:.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a QKLab run folder (config.toml, metrics.jsonl) or a resolved config.toml")
    parser.add_argument("--data", help="corpus file (default: the config's data.path)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--metrics", help="write PyTorch's log and val lines here as JSONL")
    parser.add_argument("--step1-only", action="store_true", help="only the step-1 seed-for-seed check")
    parser.add_argument("--quiet", action="store_true", help="no per-step lines")
    args = parser.parse_args()
    torch.set_num_threads(max(1, args.threads))
    try:
        return check(args)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def check(args):
    config_path = config_path_of(args.source)
    spec = load_spec(config_path)
    run_folder = os.path.dirname(config_path) if os.path.isdir(args.source) else None
    qklab = read_qklab_run(run_folder, spec["train"]["max_steps"], not args.step1_only) if run_folder else None
    fingerprint = recorded_fingerprint(config_path)
    vocabulary, train_tokens, validation = load_corpus(args.data or spec["data"]["path"], spec["data"]["val_fraction"],
                                                       fingerprint)
    bigram = bigram_loss(train_tokens, validation, len(vocabulary))
    m = spec["model"]
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s) | {config_path} | d={m['d_model']} "
          f"L={m['n_layer']} H={m['n_head']} qk_norm={m['qk_norm']} lr={spec['optim']['lr']:g} "
          f"train.seed={spec['train']['seed']} | V={len(vocabulary)} | bigram loss {bigram:.4f}", flush=True)
    started = time.perf_counter()
    history = train(spec, len(vocabulary), train_tokens, validation, args)
    seconds = time.perf_counter() - started
    if args.metrics:
        with open(args.metrics, "w", encoding="utf-8") as f:
            for record in history["log"]:
                f.write(json.dumps(record) + "\n")
            for step, value in sorted(history["val"].items()):
                f.write(json.dumps({"step": step, "val_loss": value}) + "\n")
    if qklab and qklab["step1"]:
        print_step1(qklab["step1"], history["log"][0])
    print(f"\nPyTorch: {len(history['log'])} logged steps in {seconds:.1f} s")
    if args.step1_only:
        return 0
    final = history["val"].get(spec["train"]["max_steps"])
    mine = {"final": final, "bigram": bigram, "outcome": outcome(final, bigram, history["diverged"]),
            "logit": largest_logit(history["log"]), "log": history["log"]}
    if qklab is None:
        print(f"PyTorch: final val loss {fmt(final)}, outcome {mine['outcome']}, max attn logit {mine['logit']:.4g}")
        return 0
    if qklab["bigram"] is not None and abs(qklab["bigram"] - bigram) > 1e-6:
        raise CheckError(f"bigram loss {bigram:.6f} differs from the run's {qklab['bigram']:.6f}: another corpus?")
    theirs = {"final": qklab["final"], "outcome": outcome(qklab["final"], bigram, qklab["diverged"]),
              "logit": largest_logit(qklab["log"]), "log": qklab["log"]}
    agree = print_table(os.path.basename(os.path.normpath(run_folder)), theirs, mine)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
