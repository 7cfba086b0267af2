#!/usr/bin/env python3
"""Cross-check one QKLab run (a sweep point, issues 17 and 32) with an independent PyTorch implementation.

What it does: reads a QKLab run's resolved `config.toml` (a run folder, e.g. a sweep point
`runs/sweep-scaling/points/<point>/`, or the file itself), trains the PyTorch model of
scripts/bench_torch.py (its RMSNorm and SwiGLU MLP, plus a GELU MLP, an untied head and an
attention that also measures its logits) on exactly that spec, and classifies the outcome as
`qklab sweep` does:

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

The spec (docs/spec/model.md), each choice as the config says:
- pre-norm blocks, RMSNorm (eps 1e-6, float32); RoPE (rotate_half); n_kv_head = n_head and
  head_dim = d_model / n_head;
- QK-Norm per head (before RoPE) or none; `qk_norm_gain` κ > 0: QK-Norm's gain the constant √κ
  (no parameter); scores scaled by 1/√Dh or, `attention_scale = "inverse_head_dim"`, 1/Dh;
- `mlp` SwiGLU or GELU (exact, erf) of width `d_ff`; tied or untied head (`lm_head`);
- `init`: "normal" (N(0, 0.02), o_proj and down_proj N(0, 0.02/√(2L)), an untied head N(0, 0.02))
  or "fan_in" (Wortsman et al. 2023 §2.1: every matrix a truncated normal of std 1/√fan-in,
  QKLab's SeededRandom.nextTruncatedNormal, the head too; embeddings N(0, 1/√d));
  `zero_init_query` (q_proj zeros, nothing drawn); `head_init_base_width` D0 (an untied head's
  truncated normal of std √D0/d);
- loss = CE + z_loss · mean(logsumexp²);
- AdamW (β1, β2, eps from the config, bias-corrected) with weight decay on 2-D weights only,
  `independent` decay p ← p·(1 − lr(s)/lr·wd) done as PyTorch's coupled decay with wd/lr;
  global-norm clipping (grad_clip 0: none); µParam (`optim.mup_base_width` D0, MuParam.swift):
  every linear-layer matrix's whole update, decay included, after clipping, times D0/d
  (down_proj: F0/F), done as that parameter group's learning rate r·lr(s);
- linear warmup, then cosine to `min_lr` at `decay_steps`, then min_lr.
Anything else — another value of a key listed in KEYS (post-norm, full QK-Norm, learned
positions, GeGLU, biases, soft-caps, sliding windows, Muon, QK-Clip, …), a key or section the
script does not know, or a µParam ratio the resolved config leaves ambiguous — is refused with one
line naming the key (exit 2): the script never trains a model other than the run's.

Logged on step 1 and every `train.log_interval` steps (as QKLab): loss, ce_loss, lr, grad_norm
(before clipping), attn_logit_max (per layer, max |q·k·scale| over the kept causal pairs, all heads,
the whole batch), output_lse_mean (mean log Z). The validation loss is the mean cross-entropy
over the `train.eval_batches` fixed windows, every `train.eval_interval` steps and at the end.

Given a finished run folder, it prints QKLab and PyTorch side by side — step-1 loss, the last
logged step through which the training losses agree within 1e-3 (and the largest |Δ| up to it),
final validation loss, outcome, the largest attention logit over the logged steps — and exits 0 when
the outcomes agree and the two logit maxima are within a factor 10, 1 otherwise (2: bad input,
with one line on stderr). Given only a config file, it trains and prints PyTorch's column.

Install (a CPU build of torch; the environment lives outside the repository):

    bash scripts/setup-python.sh                # then ~/.cache/qklab-pyenv/bin/python

Run from the directory QKLab ran in (the config's data.path is relative to it) or pass --data:

    OMP_NUM_THREADS=1 nice -n 19 ~/.cache/qklab-pyenv/bin/python scripts/scaling_torch_check.py \\
        "runs/sweep-scaling/points/lr=0.3,qk_norm=off,size=d32l1,seed=0"
    ... scripts/scaling_torch_check.py RUN_DIR --step1-only     # the seed-for-seed check alone
    ... scripts/scaling_torch_check.py path/to/config.toml --metrics torch.jsonl

The paper's protocol (configs/wortsman.toml: untied head, GELU, fan-in init, min_lr 1e-5), small:

    qklab train --config configs/wortsman.toml --set model.d_model=64 --set model.n_layer=2 \\
        --set model.n_head=2 --set train.max_steps=300 --set optim.warmup_steps=15 \\
        --set train.log_interval=10 --set train.eval_interval=100 [--set optim.mup_base_width=32] \\
        --run-dir runs/torchcheck/wortsman-d64l2
    ... scripts/scaling_torch_check.py runs/torchcheck/wortsman-d64l2

Options: --data FILE (corpus instead of the config's data.path), --threads N (default 1),
--metrics FILE (write PyTorch's log lines as JSONL, QKLab's keys), --step1-only, --quiet,
--float64 (the same float32 initial weights, every operation in float64: with --step1-only, a
reference that tells float32 rounding from a difference in the computation where step 1 is
ill-conditioned, e.g. a fixed QK gain κ ≥ 100 whose logits reach hundreds at step 1).
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
from bench_torch import MLP, NORM_EPS, RMSNorm, rms_norm, rotate_half   # noqa: E402  (the benchmark's PyTorch model)

LOGIT_RATIO_LIMIT = 10.0       # "logit magnitude within an order"
TRAJECTORY_TOLERANCE = 1e-3    # |Δ training loss| of a logged step still "the same trajectory"
MASK64 = (1 << 64) - 1
TRUNCATED_NORMAL_STD = 0.87962566103423978   # SeededRandom.truncatedNormalStd: std of N(0,1) on (−2, 2)


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

    def next_truncated_normal(self, std):
        """A standard normal redrawn until it lies in (−2, 2), times std/0.8796… (JAX's
        variance_scaling "truncated_normal"): samples of standard deviation `std`."""
        z = self.next_normal(1.0)
        while not abs(z) < 2:
            z = self.next_normal(1.0)
        return z * std / TRUNCATED_NORMAL_STD


# ---------------------------------------------------------------- the spec (a resolved config.toml)

ANY = None   # modelled for every value
# Every key of a resolved config.toml (Sources/Training/Config/ConfigSchema.swift) and the values
# this script models: ANY, one value, or a tuple of them. A key not listed, or a value not
# modelled, is refused (one line naming it): the script never trains a model other than the run's.
KEYS = {
    "model": {
        "block_size": ANY, "d_model": ANY, "n_layer": ANY, "n_head": ANY, "n_kv_head": ANY, "head_dim": ANY,
        "d_ff": ANY, "block_norm": "pre", "qk_norm": ("off", "head"), "qk_norm_gain": ANY, "position": "rope",
        "rope_theta": ANY, "rope_fraction": 1.0, "attention_bias": False, "mlp": ("swiglu", "gelu"),
        "norm_weight": "plain", "embed_scale": False, "tie_embeddings": ANY, "norm_eps": NORM_EPS, "z_loss": ANY,
        "attn_softcap": 0.0, "final_softcap": 0.0, "sliding_window": 0, "global_every": ANY,
        "rope_local_theta": ANY, "init": ("normal", "fan_in"),
        "attention_scale": ("inverse_sqrt_head_dim", "inverse_head_dim"), "zero_init_query": ANY,
        "head_init_base_width": ANY, "seed": ANY,
    },
    "data": {"path": ANY, "val_fraction": ANY},
    "optim": {
        "name": "adamw", "adamw_lr": ANY, "lr": ANY, "min_lr": ANY, "warmup_steps": ANY, "decay_steps": ANY,
        "beta1": ANY, "beta2": ANY, "eps": ANY, "weight_decay": ANY, "weight_decay_mode": ("coupled", "independent"),
        "decay_norm_weights": False, "grad_clip": ANY, "mup_base_width": ANY, "qk_clip_tau": 0.0,
    },
    "train": {
        "batch_size": ANY, "max_steps": ANY, "seed": ANY, "threads": ANY, "shards": ANY, "log_interval": ANY,
        "eval_interval": ANY, "eval_batches": ANY, "checkpoint_interval": ANY, "keep_checkpoints": ANY,
        "on_nonfinite": "stop", "on_checkpoint_error": ANY,
    },
}
REQUIRED = {
    "model": ["block_size", "d_model", "n_layer", "n_head", "qk_norm", "rope_theta", "norm_eps", "z_loss", "seed"],
    "data": ["path", "val_fraction"],
    "optim": ["lr", "warmup_steps", "beta1", "beta2", "eps", "weight_decay", "weight_decay_mode", "grad_clip"],
    "train": ["batch_size", "max_steps", "seed", "log_interval", "eval_interval", "eval_batches"],
}
# QKLab's defaults of the keys an older run folder may lack (ModelConfig.swift, TrainingConfig.swift).
DEFAULTS = {
    "model": {"tie_embeddings": True, "mlp": "swiglu", "init": "normal", "qk_norm_gain": 0.0,
              "attention_scale": "inverse_sqrt_head_dim", "zero_init_query": False, "head_init_base_width": 0},
    "optim": {"mup_base_width": 0},
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
    """The resolved config as {section: {key: value}}, checked for what this model implements,
    with the derived values filled in (d_ff, min_lr, decay_steps) and QKLab's defaults of keys
    an older run folder lacks."""
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CheckError(f"{path}: cannot read the config ({error})")
    for section, keys in REQUIRED.items():
        for key in keys:
            if key not in spec.get(section, {}):
                raise CheckError(f"{path}: missing key [{section}] {key} (give a run's resolved config.toml)")
    for section in spec:
        if section not in KEYS and section != "run":     # [run] names the folder only
            raise CheckError(f"{path}: [{section}] is a section this script does not know")
    for section, modelled in KEYS.items():
        for key, value in spec[section].items():
            refuse_unmodelled(path, section, key, value, modelled)
        for key, value in DEFAULTS.get(section, {}).items():
            spec[section].setdefault(key, value)
    model, optim, train = spec["model"], spec["optim"], spec["train"]
    head_dim = model.get("head_dim", model["d_model"] // model["n_head"])
    if model.get("n_kv_head", model["n_head"]) != model["n_head"] or head_dim * model["n_head"] != model["d_model"]:
        raise CheckError(f"{path}: model.n_kv_head / model.head_dim: only n_kv_head = n_head and "
                         f"head_dim = d_model / n_head are modelled here")
    model.setdefault("d_ff", derived_d_ff(model, model["d_model"]))
    optim.setdefault("min_lr", optim["lr"] / 10)
    optim.setdefault("decay_steps", train["max_steps"])
    if train["eval_interval"] < 1:
        raise CheckError(f"{path}: train.eval_interval is 0; the outcome needs a final validation loss")
    try:
        mup_ratios(model, optim)                         # refuses an ambiguous µParam ratio now
    except CheckError as error:
        raise CheckError(f"{path}: {error}")
    return spec


def refuse_unmodelled(path, section, key, value, modelled):
    """Raises naming `section.key` when the key is unknown or its value is not one modelled here."""
    if key not in modelled:
        raise CheckError(f"{path}: {section}.{key} = {json.dumps(value)} is a key this script does not know, so it cannot "
                         f"tell whether the PyTorch run would be the same")
    allowed = modelled[key]
    choices = allowed if isinstance(allowed, tuple) else (allowed,)
    if allowed is ANY or any(same_value(value, choice) for choice in choices):
        return
    choices = " or ".join(json.dumps(v) for v in choices)
    raise CheckError(f"{path}: {section}.{key} = {json.dumps(value)} is not modelled here (only {choices})")


def same_value(value, choice):
    """Equal, floats as QKLab's Float32 (an older run folder wrote norm_eps = 9.999999974752427e-07)."""
    if isinstance(choice, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.float32(value) == np.float32(choice)
    return type(value) is type(choice) and value == choice


def derived_d_ff(model, d_model):
    """`d_ff` when unset (ModelConfig.feedForward): round_up(8d/3, 32) for SwiGLU, 4d for GELU."""
    return (8 * d_model // 3 + 31) // 32 * 32 if model["mlp"] == "swiglu" else 4 * d_model


def mup_ratios(model, optim):
    """(r of q, k, v, o and an untied head; r of down_proj): µParam's update multipliers
    (Sources/Training/Optimizer/MuParam.swift), Float, (1, 1) with mup_base_width = 0.

    QKLab takes down_proj's F0/F from the config it trains with, where `d_ff` is either unset
    (F0 = d_ff derived at d = D0) or set (then D0/d); a resolved config.toml writes `d_ff` in
    both cases. A d_ff other than the derived one was set, so D0/d; a d_ff equal to it is
    ambiguous unless both rules give the same ratio (GELU: 4·D0/4d), and is then refused."""
    base = optim["mup_base_width"]
    if base == 0:
        return 1.0, 1.0
    d, f = model["d_model"], model["d_ff"]
    width = base / d
    down = derived_d_ff(model, base) / f if f == derived_d_ff(model, d) else width
    if down != width:
        raise CheckError(f"optim.mup_base_width = {base} with model.mlp = \"{model['mlp']}\": down_proj's ratio "
                         f"is {width:g} if d_ff = {f} was set, {down:g} if derived; the resolved config cannot tell")
    return float(np.float32(width)), float(np.float32(down))


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

def f32(x):
    """x rounded to Float, as a Python float (QKLab computes these constants in Float)."""
    return float(np.float32(x))


class FixedRMSNorm(nn.Module):
    """RMSNorm with the constant gain √κ (`qk_norm_gain` κ > 0, FixedQKGain.swift): no parameter."""

    def __init__(self, dim, kappa):
        super().__init__()
        gain = f32(math.sqrt(f32(kappa)))                # Float(Double(κ).squareRoot()), κ a Float
        self.register_buffer("weight", torch.full((dim,), gain), persistent=False)

    def forward(self, x):
        return rms_norm(x, self.weight)


class Attention(nn.Module):
    """project → QK-Norm → RoPE → causal softmax(q·kᵀ·scale)·v → o_proj; keeps max |score| of kept pairs."""

    def __init__(self, d, n_head, m):
        super().__init__()
        self.n_head, self.head_dim = n_head, d // n_head
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.qk_norm = m["qk_norm"]
        if self.qk_norm == "head":                       # one [Dh] gain, shared by all heads
            make = (lambda: FixedRMSNorm(self.head_dim, m["qk_norm_gain"])) if m["qk_norm_gain"] > 0 \
                else (lambda: RMSNorm(self.head_dim))
            self.q_norm, self.k_norm = make(), make()
        root = np.sqrt(np.float32(self.head_dim)) if m["attention_scale"] == "inverse_sqrt_head_dim" \
            else np.float32(self.head_dim)
        self.scale = f32(np.float32(1) / root)           # ModelConfig.attentionScoreScale: 1/√Dh or 1/Dh
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
        scores = (q @ k.transpose(-2, -1)) * self.scale                      # [B,H,T,T]
        self.logit_max = scores.detach().abs().masked_fill(~causal, 0).amax()
        p = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        y = (p @ v).transpose(1, 2).reshape(b, t, -1)                         # [B,T,d]
        return self.o_proj(y)


class GeluMLP(nn.Module):
    """`mlp = "gelu"`: down(gelu(up(x))), exact (erf) GELU (FeedForward.swift)."""

    def __init__(self, d, d_ff):
        super().__init__()
        self.up_proj = nn.Linear(d, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.gelu(self.up_proj(x)))


class Block(nn.Module):
    def __init__(self, d, n_head, m):
        super().__init__()
        self.input_layernorm = RMSNorm(d)
        self.self_attn = Attention(d, n_head, m)
        self.post_attention_layernorm = RMSNorm(d)
        self.mlp = (MLP if m["mlp"] == "swiglu" else GeluMLP)(d, m["d_ff"])

    def forward(self, x, cos, sin, causal):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, causal)
        return h + self.mlp(self.post_attention_layernorm(h))


class Model(nn.Module):
    """Pre-norm, RoPE, SwiGLU or GELU, tied or untied head; parameters named as QKLab's."""

    def __init__(self, vocab_size, m):
        super().__init__()
        d, n_layer, n_head, block_size = m["d_model"], m["n_layer"], m["n_head"], m["block_size"]
        self.embed_tokens = nn.Embedding(vocab_size, d)
        self.layers = nn.ModuleList(Block(d, n_head, m) for _ in range(n_layer))
        self.norm = RMSNorm(d)
        self.lm_head = None if m["tie_embeddings"] else nn.Linear(d, vocab_size, bias=False)
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
        head = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(self.norm(x), head)                                # [B,T,V]

    def attention_logit_max(self):
        return [layer.self_attn.logit_max.item() for layer in self.layers]


def initialize_like_qklab(model, m):
    """QKLab's initial weights (Initialization.swift), drawn from one stream seeded with model.seed
    in QKLab's parameter order: embeddings; per layer q, k, v, o, [norms: ones, nothing drawn],
    [gate], up, down; final norm; an untied head. Stds are Floats, as QKLab's.

    init = "normal": every matrix and embedding N(0, 0.02), o_proj and down_proj N(0, 0.02/√(2L)),
    an untied head N(0, 0.02). init = "fan_in": every matrix [out, in] (the head too) the
    truncated normal of std 1/√in (SeededRandom.nextTruncatedNormal), embeddings N(0, 1/√d).
    zero_init_query: q_proj zeros (nothing drawn). head_init_base_width D0 > 0 (untied): the head
    the truncated normal of std √D0/d."""
    rng = SeededRandom(m["seed"])
    fan_in = m["init"] == "fan_in"
    std = f32(0.02)
    residual_std = f32(np.float32(0.02) / np.sqrt(np.float32(2 * m["n_layer"])))

    def fill(weight, draw, std):
        values = [draw(std) for _ in range(weight.numel())]
        with torch.no_grad():
            weight.copy_(torch.tensor(values, dtype=torch.float64).view_as(weight))   # rounds to Float

    def matrix(linear, normal_std):
        if fan_in:
            fill(linear.weight, rng.next_truncated_normal, f32(1 / math.sqrt(linear.in_features)))
        else:
            fill(linear.weight, rng.next_normal, normal_std)

    d = m["d_model"]
    fill(model.embed_tokens.weight, rng.next_normal, f32(1 / math.sqrt(d)) if fan_in else std)
    for layer in model.layers:
        attention, mlp = layer.self_attn, layer.mlp
        if m["zero_init_query"]:
            with torch.no_grad():
                attention.q_proj.weight.zero_()
        else:
            matrix(attention.q_proj, std)
        for linear, s in ((attention.k_proj, std), (attention.v_proj, std), (attention.o_proj, residual_std)):
            matrix(linear, s)
        if m["mlp"] == "swiglu":
            matrix(mlp.gate_proj, std)
        matrix(mlp.up_proj, std)
        matrix(mlp.down_proj, residual_std)
    if model.lm_head is not None:
        if m["head_init_base_width"] > 0:
            fill(model.lm_head.weight, rng.next_truncated_normal, f32(math.sqrt(m["head_init_base_width"]) / d))
        else:
            matrix(model.lm_head, std)


# ---------------------------------------------------------------- loss, schedule, optimizer

def loss_terms(logits, targets, z_loss):
    """(objective = CE + z·mean(lse²), CE, lse [B·T])."""
    logits = logits.reshape(-1, logits.shape[-1])
    lse = torch.logsumexp(logits, dim=-1)
    ce = F.cross_entropy(logits, targets.reshape(-1))
    return ce + z_loss * (lse ** 2).mean(), ce, lse.detach()


def learning_rate(step, optim):
    """Warmup to lr, cosine to min_lr at decay_steps, then min_lr (LearningRateSchedule.swift)."""
    peak, warmup, floor, decay = optim["lr"], optim["warmup_steps"], optim["min_lr"], optim["decay_steps"]
    if step == warmup:
        return peak
    if step < warmup:
        return peak * step / warmup
    if step > decay:
        return floor
    progress = (step - warmup) / (decay - warmup)
    return floor + 0.5 * (1 + math.cos(math.pi * progress)) * (peak - floor)


def make_optimizer(model, m, optim):
    """AdamW with decay on 2-D weights; `independent` decay lr(s)/lr·wd is PyTorch's lr(s)·(wd/lr).

    µParam (MuParam.swift): the whole update of a linear-layer matrix, decay included, times its
    ratio r, after clipping. PyTorch's AdamW with the group's rate r·lr(s) is exactly that:
    p·(1 − r·lr(s)·wd′) − r·lr(s)/(1−β1ᵗ)·m/(√v̂ + eps). Each group's "ratio" is its r."""
    wd = optim["weight_decay"] / optim["lr"] if optim["weight_decay_mode"] == "independent" else optim["weight_decay"]
    width, down = mup_ratios(m, optim)
    groups = {}                                          # (ratio, decayed) → parameters
    for name, p in model.named_parameters():
        ratio = 1.0
        if p.dim() == 2 and not name.startswith("embed_"):
            ratio = down if name.endswith("mlp.down_proj.weight") else width
        groups.setdefault((ratio, p.dim() == 2), []).append(p)
    return torch.optim.AdamW([{"params": ps, "weight_decay": wd if decayed else 0.0, "ratio": ratio}
                              for (ratio, decayed), ps in groups.items()],
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
    initialize_like_qklab(model, m)
    if args.float64:
        model.double()      # QKLab's float32 initial weights, then every operation in float64
    optimizer = make_optimizer(model, m, optim)
    sampler = SeededRandom(t["seed"])
    eval_batches = evaluation_offsets(len(validation), t["eval_batches"], t["batch_size"], m["block_size"])
    max_steps = 1 if args.step1_only else t["max_steps"]
    history = {"log": [], "val": {}, "diverged": None}
    for step in range(1, max_steps + 1):
        lr = learning_rate(step, optim)
        x, y = windows(train_tokens, training_offsets(sampler, len(train_tokens), t["batch_size"], m["block_size"]),
                       m["block_size"])
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss, ce, lse = loss_terms(logits, y, m["z_loss"])
        loss.backward()
        clip = optim["grad_clip"] if optim["grad_clip"] > 0 else math.inf     # 0: off (factor 1)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
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
            group["lr"] = group["ratio"] * lr            # µParam's r (1 without it)
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


def shared_trajectory(qklab_log, torch_log, tolerance=TRAJECTORY_TOLERANCE):
    """(the last logged step up to which the two training losses agree within `tolerance`,
    the largest |Δ loss| up to there)."""
    theirs = {r["step"]: r["loss"] for r in qklab_log}
    last, largest = 0, 0.0
    for record in torch_log:
        step, loss = record["step"], record["loss"]
        if step in theirs:
            if theirs[step] is None or not abs(theirs[step] - loss) <= tolerance:
                break
            last, largest = step, max(largest, abs(theirs[step] - loss))
    return last, largest


def print_table(name, qklab, mine):
    ratio = max(qklab["logit"], mine["logit"]) / min(qklab["logit"], mine["logit"])
    within = ratio <= LOGIT_RATIO_LIMIT
    last, largest = shared_trajectory(qklab["log"], mine["log"])
    print(f"\n{name}   (bigram loss {mine['bigram']:.4f}; the training losses agree within "
          f"{TRAJECTORY_TOLERANCE:g} through logged step {last}, largest |Δ| {largest:.2e})")
    print(f"  {'':26} {'QKLab':>14} {'PyTorch':>14}")
    gap = abs(qklab["final"] - mine["final"]) if qklab["final"] is not None and mine["final"] is not None else None
    print(f"  {'final val loss':26} {fmt(qklab['final']):>14} {fmt(mine['final']):>14}"
          + (f"   |Δ| {gap:.2e}" if gap is not None else ""))
    print(f"  {'outcome':26} {qklab['outcome']:>14} {mine['outcome']:>14}   "
          f"{'agree' if qklab['outcome'] == mine['outcome'] else 'DIFFER'}")
    print(f"  {'max attn logit (logged)':26} {qklab['logit']:14.4g} {mine['logit']:14.4g}   "
          f"ratio {ratio:.2f} ({'within' if within else 'NOT within'} {LOGIT_RATIO_LIMIT:g}x)")
    return qklab["outcome"] == mine["outcome"] and within


def describe(spec):
    """The spec's departures from the default layout, as ` key=value` pairs for the header."""
    m, optim = spec["model"], spec["optim"]
    parts = [f"qk_norm_gain={m['qk_norm_gain']:g}"] if m["qk_norm_gain"] > 0 else []
    parts += [f"{key}={m[key]}" for key, default in (("mlp", "swiglu"), ("init", "normal"),
                                                       ("attention_scale", "inverse_sqrt_head_dim"))
              if m[key] != default]
    parts += ["untied head"] if not m["tie_embeddings"] else []
    parts += ["zero_init_query"] if m["zero_init_query"] else []
    parts += [f"head_init_base_width={m['head_init_base_width']}"] if m["head_init_base_width"] > 0 else []
    parts += [f"mup_base_width={optim['mup_base_width']}"] if optim["mup_base_width"] > 0 else []
    return "".join(" " + part for part in parts)


def fmt(value):
    return "—" if value is None else f"{value:.6f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a QKLab run folder (config.toml, metrics.jsonl) or a resolved config.toml")
    parser.add_argument("--data", help="corpus file (default: the config's data.path)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--metrics", help="write PyTorch's log and val lines here as JSONL")
    parser.add_argument("--step1-only", action="store_true", help="only the step-1 seed-for-seed check")
    parser.add_argument("--quiet", action="store_true", help="no per-step lines")
    parser.add_argument("--float64", action="store_true",
                        help="compute in float64 from the same float32 initial weights: a reference that tells "
                             "float32 rounding apart from a difference in the computation (usually with "
                             "--step1-only)")
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
          f"L={m['n_layer']} H={m['n_head']} qk_norm={m['qk_norm']}{describe(spec)} lr={spec['optim']['lr']:g} "
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
