#!/usr/bin/env python3
"""Golden logits: an independent numpy reference for docs/spec/model.md's forward pass.

This file does not share code with the Swift trainer. It re-implements, in
float64, the numerical contract of docs/spec/model.md (embeddings, Gemma's embedding
scale, learned positions, pre/post/sandwich block layouts, RMSNorm gains plain
or offset (1 + w, formed in float32), QK-Norm off/head/full applied before RoPE,
RoPE in the Hugging Face rotate_half convention, full or partial (the first
int(Dh * rope_fraction) dims of each head), grouped-query attention with query
head h reading key/value head h // (H / Hkv), causal softmax attention scaled by
1/sqrt(Dh), SwiGLU, GeGLU (tanh GELU) and exact-erf GELU MLPs, final RMSNorm,
tied/untied head, mean cross-entropy and the z-loss term), and writes one JSON
fixture per layout
to Tests/TransformerTests/Fixtures/, read by GoldenLogitsTests.swift.

Weights are random from a fixed seed, rounded to float32 (the values the Swift
model loads, written as the repr of the python float of each float32), and
then used in float64. Config scalars (rope_theta, norm_eps, z_loss) are also
rounded to float32, because that is the precision of the Swift config.

Before writing, the script checks the reference itself: causality (changing the
last token leaves earlier logits unchanged), prefixes, QK-Norm scale
invariance, RoPE's relative-position property, the repeat_kv mapping, partial
RoPE (fraction 1 is the full rotation, the unrotated dims pass through) and the
offset gain (w = gamma - 1 gives the plain model with gain gamma).
After writing, it reloads each fixture and recomputes it from the file.

Rerun (deterministic; numpy only):

    python3 scripts/golden_model.py
"""

import json
import math
from pathlib import Path

import numpy as np

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "Tests" / "TransformerTests" / "Fixtures"
BATCH, LENGTH = 2, 5  # LENGTH < block_size, so a prefix of the position table is used

COMMON = {"vocab_size": 7, "block_size": 6, "d_model": 8, "n_layer": 2, "head_dim": 4, "d_ff": 16,
          "norm_eps": 1e-6, "z_loss": 0.001, "norm_weight": "plain", "embed_scale": False, "rope_fraction": 1.0}

# (name, seed, layout switches)
LAYOUTS = [
    ("qwen3", 101, {"n_head": 2, "n_kv_head": 1, "block_norm": "pre", "qk_norm": "head", "position": "rope",
                    "rope_theta": 10000.0, "mlp": "swiglu", "tie_embeddings": True}),
    ("llama", 202, {"n_head": 2, "n_kv_head": 2, "block_norm": "pre", "qk_norm": "off", "position": "rope",
                    "rope_theta": 100.0, "mlp": "swiglu", "tie_embeddings": False}),
    ("olmo2", 303, {"n_head": 2, "n_kv_head": 2, "block_norm": "post", "qk_norm": "full", "position": "rope",
                    "rope_theta": 10000.0, "mlp": "swiglu", "tie_embeddings": False}),
    ("gelu_learned", 404, {"n_head": 2, "n_kv_head": 2, "block_norm": "pre", "qk_norm": "head",
                           "position": "learned", "rope_theta": 10000.0, "mlp": "gelu", "tie_embeddings": True}),
    ("gemma3", 505, {"n_head": 2, "n_kv_head": 1, "block_norm": "sandwich", "qk_norm": "head", "position": "rope",
                     "rope_theta": 10000.0, "mlp": "geglu", "tie_embeddings": True, "norm_weight": "offset",
                     "embed_scale": True}),
    ("qwen3_next", 606, {"n_head": 2, "n_kv_head": 2, "head_dim": 8, "block_norm": "pre", "qk_norm": "head",
                         "position": "rope", "rope_theta": 10000.0, "mlp": "swiglu", "tie_embeddings": False,
                         "norm_weight": "offset", "rope_fraction": 0.25}),
    ("minimax_m2", 707, {"n_head": 2, "n_kv_head": 1, "block_norm": "pre", "qk_norm": "full", "position": "rope",
                         "rope_theta": 10000.0, "mlp": "swiglu", "tie_embeddings": True, "rope_fraction": 0.5}),
]

CONFIG_KEYS = ["vocab_size", "block_size", "d_model", "n_layer", "n_head", "n_kv_head", "head_dim", "d_ff",
               "block_norm", "qk_norm", "position", "rope_theta", "rope_fraction", "mlp", "norm_weight", "embed_scale",
               "tie_embeddings", "norm_eps", "z_loss"]


def f32(value):
    """A config scalar as the Swift side holds it (Float), widened to float64."""
    return float(np.float32(value))


# ----------------------------------------------------------------------------
# Parameters: names, shapes and order of docs/spec/model.md's table
# ----------------------------------------------------------------------------

def parameter_shapes(cfg):
    """[(name, shape)] for every parameter of the layout, in fixture order."""
    V, d, T = cfg["vocab_size"], cfg["d_model"], cfg["block_size"]
    H, Hkv, Dh, F = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"], cfg["d_ff"]
    shapes = [("model.embed_tokens.weight", [V, d])]
    if cfg["position"] == "learned":
        shapes.append(("model.embed_positions.weight", [T, d]))
    for i in range(cfg["n_layer"]):
        p = f"model.layers.{i}."
        shapes += [(p + "self_attn.q_proj.weight", [H * Dh, d]),
                   (p + "self_attn.k_proj.weight", [Hkv * Dh, d]),
                   (p + "self_attn.v_proj.weight", [Hkv * Dh, d]),
                   (p + "self_attn.o_proj.weight", [d, H * Dh])]
        if cfg["qk_norm"] == "head":
            shapes += [(p + "self_attn.q_norm.weight", [Dh]), (p + "self_attn.k_norm.weight", [Dh])]
        elif cfg["qk_norm"] == "full":
            shapes += [(p + "self_attn.q_norm.weight", [H * Dh]), (p + "self_attn.k_norm.weight", [Hkv * Dh])]
        norms = {"pre": ["input_layernorm", "post_attention_layernorm"],
                 "post": ["post_attention_layernorm", "post_feedforward_layernorm"],
                 "sandwich": ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                              "post_feedforward_layernorm"]}[cfg["block_norm"]]
        shapes += [(p + norm + ".weight", [d]) for norm in norms]
        if cfg["mlp"] in ("swiglu", "geglu"):
            shapes.append((p + "mlp.gate_proj.weight", [F, d]))
        shapes += [(p + "mlp.up_proj.weight", [F, d]), (p + "mlp.down_proj.weight", [d, F])]
    shapes.append(("model.norm.weight", [d]))
    if not cfg["tie_embeddings"]:
        shapes.append(("lm_head.weight", [V, d]))
    return shapes


def random_parameters(cfg, rng):
    """{name: float32 array}. Matrices ~ N(0, 0.5); norm gains ~ 1 + N(0, 0.2) (the offset form
    stores w = gain - 1)."""
    params = {}
    for name, shape in parameter_shapes(cfg):
        if "norm" in name:
            values = (0.0 if cfg["norm_weight"] == "offset" else 1.0) + rng.normal(0.0, 0.2, size=shape)
        else:
            values = rng.normal(0.0, 0.5, size=shape)
        params[name] = values.astype(np.float32)
    return params


# ----------------------------------------------------------------------------
# Forward pass, in pipeline order (all float64)
# ----------------------------------------------------------------------------

def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * w, over the last axis."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def gain(weight, cfg):
    """The RMSNorm gain of a stored weight: w (plain) or 1 + w formed in float32 (offset)."""
    if cfg["norm_weight"] == "offset":
        return (np.float32(1.0) + np.asarray(weight, dtype=np.float32)).astype(np.float64)
    return weight


def norm(x, weight, cfg):
    """docs/spec/model.md's RMSNorm with the config's gain form and eps."""
    return rms_norm(x, gain(weight, cfg), f32(cfg["norm_eps"]))


def rope(x, positions, theta, fraction=1.0):
    """Rotate [..., T, Dh] by position: element i pairs with i + R/2 (rotate_half) on the first
    R = int(Dh * fraction) dims, with R in place of Dh in the frequencies; the rest pass through."""
    Dh = x.shape[-1]
    R = int(Dh * fraction)
    half = R // 2
    inv_freq = theta ** (-2.0 * np.arange(half) / R)            # [R/2]
    angle = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]  # [T, R/2]
    cos, sin = np.cos(angle), np.sin(angle)
    x1, x2, rest = x[..., :half], x[..., half:R], x[..., R:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], axis=-1)


def softmax(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def attention(x, p, prefix, cfg):
    """Causal (grouped-query) self-attention. Returns (output [B,T,d], its statistics): the max
    |kept score| and the stability telemetry of docs/metrics.md (normalised entropy per head, q and k
    RMS as they enter q.k^T)."""
    B, T, _ = x.shape
    H, Hkv, Dh = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    q = x @ p[prefix + "self_attn.q_proj.weight"].T                 # [B,T,H*Dh]
    k = x @ p[prefix + "self_attn.k_proj.weight"].T                 # [B,T,Hkv*Dh]
    v = x @ p[prefix + "self_attn.v_proj.weight"].T
    if cfg["qk_norm"] == "full":                                    # OLMo 2: over the whole projection
        q = norm(q, p[prefix + "self_attn.q_norm.weight"], cfg)
        k = norm(k, p[prefix + "self_attn.k_norm.weight"], cfg)
    q = q.reshape(B, T, H, Dh).transpose(0, 2, 1, 3)                # [B,H,T,Dh]
    k = k.reshape(B, T, Hkv, Dh).transpose(0, 2, 1, 3)              # [B,Hkv,T,Dh]
    v = v.reshape(B, T, Hkv, Dh).transpose(0, 2, 1, 3)
    if cfg["qk_norm"] == "head":                                    # Qwen3: per head over Dh, shared weight
        q = norm(q, p[prefix + "self_attn.q_norm.weight"], cfg)
        k = norm(k, p[prefix + "self_attn.k_norm.weight"], cfg)
    if cfg["position"] == "rope":                                   # after the norm, never before
        theta, fraction = f32(cfg["rope_theta"]), cfg["rope_fraction"]   # R from the decimal, as transformers
        q = rope(q, np.arange(T), theta, fraction)
        k = rope(k, np.arange(T), theta, fraction)
    q_rms, k_rms = math.sqrt(np.mean(q * q)), math.sqrt(np.mean(k * k))   # k before repeat_kv: its Hkv heads
    kv_of_head = np.arange(H) // (H // Hkv)                         # repeat_kv: h -> h // (H/Hkv)
    k, v = k[:, kv_of_head], v[:, kv_of_head]                       # [B,H,T,Dh]
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(Dh)            # [B,H,Tq,Tk]
    keep = np.tril(np.ones((T, T), dtype=bool))                     # key position <= query position
    max_abs_score = float(np.abs(scores[:, :, keep]).max())
    probs = softmax(np.where(keep, scores, -np.inf))
    y = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, H * Dh)     # merge heads
    with np.errstate(divide="ignore", invalid="ignore"):             # masked p = 0: 0 * log 0 = 0
        plogp = np.where(probs > 0, probs * np.log(probs), 0.0)
    entropy = -plogp.sum(axis=-1)[:, :, 1:] / np.log(np.arange(2, T + 1))   # [B,H,T-1]: H_t / ln(t+1), t >= 1
    stats = {"attn_logit_max": max_abs_score, "attn_entropy": float(entropy.mean()),
             "attn_entropy_min": float(entropy.mean(axis=(0, 2)).min()), "q_rms": q_rms, "k_rms": k_rms}
    return y @ p[prefix + "self_attn.o_proj.weight"].T, stats


def gelu(x):
    """Exact GELU: x * Phi(x) with the error function."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """PyTorch's gelu(approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def mlp(x, p, prefix, cfg):
    up = x @ p[prefix + "mlp.up_proj.weight"].T
    if cfg["mlp"] in ("swiglu", "geglu"):
        activation = silu if cfg["mlp"] == "swiglu" else gelu_tanh
        hidden = activation(x @ p[prefix + "mlp.gate_proj.weight"].T) * up
    else:
        hidden = gelu(up)
    return hidden @ p[prefix + "mlp.down_proj.weight"].T


def block(x, p, i, cfg):
    """One layer. Returns (output, its attention statistics)."""
    prefix = f"model.layers.{i}."
    w = lambda name: p[prefix + name + ".weight"]
    if cfg["block_norm"] == "pre":
        a, stats = attention(norm(x, w("input_layernorm"), cfg), p, prefix, cfg)
        h = x + a
        return h + mlp(norm(h, w("post_attention_layernorm"), cfg), p, prefix, cfg), stats
    if cfg["block_norm"] == "sandwich":                             # Gemma 3: a norm before and after each sublayer
        a, stats = attention(norm(x, w("input_layernorm"), cfg), p, prefix, cfg)
        h = x + norm(a, w("post_attention_layernorm"), cfg)
        m = mlp(norm(h, w("pre_feedforward_layernorm"), cfg), p, prefix, cfg)
        return h + norm(m, w("post_feedforward_layernorm"), cfg), stats
    a, stats = attention(x, p, prefix, cfg)
    h = x + norm(a, w("post_attention_layernorm"), cfg)
    return h + norm(mlp(h, p, prefix, cfg), w("post_feedforward_layernorm"), cfg), stats


def forward(cfg, params, tokens):
    """Logits [B,T,V] (float64) and per-layer attention statistics (see attention)."""
    p = {name: np.asarray(w, dtype=np.float64) for name, w in params.items()}
    tokens = np.asarray(tokens)
    T = tokens.shape[1]
    assert T <= cfg["block_size"]
    x = p["model.embed_tokens.weight"][tokens]                      # [B,T,d]
    if cfg["embed_scale"]:                                          # Gemma: times float32(sqrt(d)); the head is not scaled
        x = x * f32(math.sqrt(cfg["d_model"]))
    if cfg["position"] == "learned":
        x = x + p["model.embed_positions.weight"][:T]
    layer_stats = []
    for i in range(cfg["n_layer"]):
        x, stats = block(x, p, i, cfg)
        layer_stats.append(stats)
    x = norm(x, p["model.norm.weight"], cfg)
    head = p["model.embed_tokens.weight"] if cfg["tie_embeddings"] else p["lm_head.weight"]
    return x @ head.T, layer_stats


LAYER_TELEMETRY = ["attn_entropy", "attn_entropy_min", "q_rms", "k_rms"]


def telemetry(logits, layer_stats):
    """The stability telemetry (docs/metrics.md) of one forward pass (update_ratio needs a step: not here)."""
    m = logits.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True)))[..., 0]
    values = {key: [stats[key] for stats in layer_stats] for key in LAYER_TELEMETRY}
    return dict(values, output_logit_max=float(np.abs(logits).max()), output_lse_mean=float(lse.mean()))


def loss(logits, targets, z_loss):
    """(mean cross-entropy, cross-entropy + z_loss * mean(logsumexp^2))."""
    m = logits.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True)))[..., 0]   # [B,T]
    picked = np.take_along_axis(logits, np.asarray(targets)[..., None], axis=-1)[..., 0]
    ce = float(np.mean(lse - picked))
    return ce, ce + f32(z_loss) * float(np.mean(lse * lse))


# ----------------------------------------------------------------------------
# Self-checks of the reference (not written to the fixtures)
# ----------------------------------------------------------------------------

def check_causality(cfg, params, tokens, logits):
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % cfg["vocab_size"]
    other, _ = forward(cfg, params, changed)
    assert np.max(np.abs(other[:, :-1] - logits[:, :-1])) <= 1e-12, "later token changed earlier logits"
    assert np.max(np.abs(other[:, -1] - logits[:, -1])) > 1e-6, "changing the last token changed nothing"
    prefix, _ = forward(cfg, params, tokens[:, :-1])
    assert np.max(np.abs(prefix - logits[:, :-1])) <= 1e-12, "prefix logits differ"


def scaled_qk(cfg, params, factor):
    scaled = {name: np.asarray(w, dtype=np.float64) for name, w in params.items()}
    for i in range(cfg["n_layer"]):
        for proj in ("q_proj", "k_proj"):
            scaled[f"model.layers.{i}.self_attn.{proj}.weight"] *= factor
    return scaled


def check_qk_norm_invariance(cfg, params, tokens, logits):
    """With QK-Norm, scaling Wq and Wk by 10 leaves the logits unchanged.

    Exact (to rounding) with norm_eps = 0. With the fixture's eps 1e-6 the
    change is eps / mean(q^2) and can reach ~1e-5 for a short q or k head
    vector, so that case only gets a loose bound.
    """
    def relative_change(config):
        base, _ = forward(config, params, tokens)
        other, _ = forward(config, scaled_qk(config, params, 10.0), tokens)
        return np.max(np.abs(other - base)) / np.max(np.abs(base))
    if cfg["qk_norm"] == "off":  # negative control: the check has teeth
        change = relative_change(cfg)
        assert change > 1e-3, f"scaling Wq, Wk without QK-Norm barely changed logits ({change:.2e})"
    else:
        exact = relative_change(dict(cfg, norm_eps=0.0))
        assert exact <= 1e-6, f"QK-Norm scale invariance broken: relative change {exact:.2e} (eps = 0)"
        with_eps = relative_change(cfg)
        assert with_eps <= 1e-4, f"QK-Norm scale invariance broken: relative change {with_eps:.2e}"


def check_repeat_kv(cfg, params, tokens, logits):
    """GQA equals full multi-head attention with each K/V head copied to its query heads."""
    H, Hkv, Dh = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    if Hkv == H:
        return
    kv_of_head = np.arange(H) // (H // Hkv)
    expanded = dict(params)
    for i in range(cfg["n_layer"]):
        prefix = f"model.layers.{i}.self_attn."
        for proj in ("k_proj", "v_proj"):
            w = params[prefix + proj + ".weight"].reshape(Hkv, Dh, -1)
            expanded[prefix + proj + ".weight"] = w[kv_of_head].reshape(H * Dh, -1)
        if cfg["qk_norm"] == "full":
            w = params[prefix + "k_norm.weight"].reshape(Hkv, Dh)
            expanded[prefix + "k_norm.weight"] = w[kv_of_head].reshape(H * Dh)
    other, _ = forward(dict(cfg, n_kv_head=H), expanded, tokens)
    assert np.max(np.abs(other - logits)) <= 1e-12, "repeat_kv mapping mismatch"


def check_offset_gain(cfg, params, tokens, logits):
    """The offset model with w equals the plain model with gain 1 + w (to float32 rounding of 1 + w)."""
    if cfg["norm_weight"] != "offset":
        return
    plain = {name: (gain(w, cfg) if "norm" in name else w) for name, w in params.items()}
    other, _ = forward(dict(cfg, norm_weight="plain"), plain, tokens)
    assert np.max(np.abs(other - logits)) <= 1e-12, "offset gain is not 1 + w"


def check_partial_rope():
    """Fraction 1 is the full rotation; the unrotated dims pass through; the rotated ones are a
    full rotation of an R-wide head."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 8))
    assert np.array_equal(rope(x, np.arange(5), 10000.0, 1.0), rope(x, np.arange(5), 10000.0))
    partial = rope(x, np.arange(5), 10000.0, 0.25)
    assert np.array_equal(partial[:, 2:], x[:, 2:])
    assert np.array_equal(partial[:, :2], rope(x[:, :2], np.arange(5), 10000.0))


def check_rope():
    """RoPE: identity at position 0, norm-preserving, and q.k depends only on the position offset."""
    rng = np.random.default_rng(7)
    q, k = rng.normal(size=(1, 8)), rng.normal(size=(1, 8))
    theta = 10000.0
    assert np.allclose(rope(q, [0], theta), q, atol=0, rtol=0)
    assert np.isclose(np.linalg.norm(rope(q, [3], theta)), np.linalg.norm(q), rtol=1e-14)
    dot = lambda m, n: float(np.sum(rope(q, [m], theta) * rope(k, [n], theta)))
    assert abs(dot(5, 2) - dot(3, 0)) < 1e-12 and abs(dot(4, 4) - float(np.sum(q * k))) < 1e-12
    # Element 0 pairs with element Dh/2 (rotate_half), not with element 1.
    e0 = np.zeros((1, 8)); e0[0, 0] = 1.0
    r = rope(e0, [1], theta)[0]
    assert np.isclose(r[0], math.cos(1.0)) and np.isclose(r[4], math.sin(1.0)) and r[1] == 0.0


# ----------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------

def dumps(value):
    return json.dumps(value, separators=(",", ":"))


def fixture_text(name, cfg, tokens, targets, params, logits, ce, total, layer_stats):
    """The fixture as JSON text: one parameter per line, so diffs stay readable."""
    lines = ["{",
             f'  "name": {dumps(name)},',
             f'  "config": {dumps({key: cfg[key] for key in CONFIG_KEYS})},',
             f'  "tokens": {dumps(tokens.tolist())},',
             f'  "targets": {dumps(targets.tolist())},',
             '  "params": [']
    entries = []
    for pname, w in params.items():
        data = [float(v) for v in w.reshape(-1)]        # python float of each float32: exact, round-trips
        entries.append("    " + dumps({"name": pname, "shape": list(w.shape), "data": data}))
    lines.append(",\n".join(entries))
    lines += ["  ],",
              f'  "logits": {dumps({"shape": list(logits.shape), "data": [float(v) for v in logits.reshape(-1)]})},',
              f'  "ce_loss": {dumps(ce)},',
              f'  "loss": {dumps(total)},',
              f'  "attn_logit_max": {dumps([stats["attn_logit_max"] for stats in layer_stats])},',
              f'  "telemetry": {dumps(telemetry(logits, layer_stats))}',
              "}"]
    return "\n".join(lines) + "\n"


def verify_file(path, cfg, params, logits):
    """Reload the fixture and recompute from what is in the file."""
    stored = json.loads(path.read_text())
    assert [p["name"] for p in stored["params"]] == [n for n, _ in parameter_shapes(cfg)]
    loaded = {}
    for p in stored["params"]:
        w = np.array(p["data"], dtype=np.float64).reshape(p["shape"])
        assert np.array_equal(w, np.asarray(params[p["name"]], dtype=np.float64)), p["name"]
        assert np.array_equal(w.astype(np.float32).astype(np.float64), w), p["name"] + " not float32"
        loaded[p["name"]] = w
    again, layer_stats = forward(stored["config"], loaded, np.array(stored["tokens"]))
    expected = np.array(stored["logits"]["data"]).reshape(stored["logits"]["shape"])
    assert np.array_equal(expected, logits) and np.max(np.abs(again - expected)) <= 1e-12
    ce, total = loss(again, np.array(stored["targets"]), stored["config"]["z_loss"])
    assert abs(ce - stored["ce_loss"]) <= 1e-12 and abs(total - stored["loss"]) <= 1e-12
    assert np.allclose([s["attn_logit_max"] for s in layer_stats], stored["attn_logit_max"], rtol=1e-12, atol=0)
    for key, value in telemetry(again, layer_stats).items():
        assert np.allclose(value, stored["telemetry"][key], rtol=1e-12, atol=0), key


def make_fixture(name, seed, layout):
    cfg = dict(COMMON, **layout)
    rng = np.random.default_rng(seed)
    params = random_parameters(cfg, rng)
    tokens = rng.integers(0, cfg["vocab_size"], size=(BATCH, LENGTH))
    while np.any(tokens[:, 0] == tokens[:, 1]):
        # A row starting with two equal tokens gives two equal positions under RoPE
        # (position 1 sees only equal values), a weaker test: redraw.
        tokens = rng.integers(0, cfg["vocab_size"], size=(BATCH, LENGTH))
    targets = rng.integers(0, cfg["vocab_size"], size=(BATCH, LENGTH))

    logits, layer_stats = forward(cfg, params, tokens)
    ce, total = loss(logits, targets, cfg["z_loss"])

    check_causality(cfg, params, tokens, logits)
    check_qk_norm_invariance(cfg, params, tokens, logits)
    check_repeat_kv(cfg, params, tokens, logits)
    check_offset_gain(cfg, params, tokens, logits)

    path = FIXTURE_DIR / f"{name}.json"
    path.write_text(fixture_text(name, cfg, tokens, targets, params, logits, ce, total, layer_stats))
    verify_file(path, cfg, params, logits)
    print(f"{name:13s} loss {total:.6f}  ce {ce:.6f}  max|logit| {np.max(np.abs(logits)):.4f}  "
          "attn_logit_max " + ", ".join(f"{s['attn_logit_max']:.4f}" for s in layer_stats)
          + f"  ({path.stat().st_size} bytes)")


def main():
    check_rope()
    check_partial_rope()
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    for name, seed, layout in LAYOUTS:
        make_fixture(name, seed, layout)


if __name__ == "__main__":
    main()
