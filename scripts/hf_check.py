#!/usr/bin/env python3
"""Check a QKLab run against Hugging Face `transformers`: same weights, same logits, same greedy text.

For the run folder RUN it
  1. exports it with `qklab export-hf RUN OUT` (`--class` picks the class where a layout has two:
     Olmo3ForCausalLM for the OLMo 2/3 layout),
  2. loads OUT with `AutoModelForCausalLM` (float32, eager attention: the default SDPA path adds
     ~2e-5 of error) and fails if any weight is missing, unexpected or different from the file,
  3. runs one token sequence (random ids of length block_size, or --text) through both and prints
     max |Δ logits| against `qklab logits`, absolute and relative to the logits' scale
     max(1, max |logit|),
  4. greedy-generates from --prompt in both, with QKLab's context window (past block_size it keeps
     the newest half, as the key/value cache does), and compares the text with
     `qklab sample --temperature 0`,
  5. the other way: saves the loaded model with transformers' own `save_pretrained` (its
     config.json, with the class's own fields and defaults written out), starts a QKLab run from
     it with `qklab train --config RUN/config.toml --init-from SAVED` for one step at lr (and min_lr) 1e-30
     (which leaves the weights as imported, bit for bit) and compares that run's logits with
     transformers' and with the original run's (which must be identical).
Exit status 0 when both max |Δ| ≤ --tolerance (default 1e-5) × max(1, max |logit|), the texts
match and the imported run's logits are the original's bit for bit, else 1.

Every class QKLab exports is covered (`CLASSES`): Qwen3ForCausalLM, LlamaForCausalLM,
Olmo2ForCausalLM, Olmo3ForCausalLM, Gemma3ForCausalLM (text only), Gemma2ForCausalLM, the dense
Qwen3NextForCausalLM, whose attention output gate the export neutralises exactly (zero gate rows
in q_proj, o_proj doubled; step 2 reports the gate rows), Glm4MoeForCausalLM (GLM-4.5, every
layer dense), MiniMaxM2ForCausalLM (one expert, in the released checkpoints' tensor names, which
step 2 compares with transformers' fused ones) and Sarvam 30B (`sarvam_moe`, served by
Glm4MoeForCausalLM). `--all` trains a smoke run per class (40 steps of configs/smoke.toml with
the family preset's switches) in a temporary folder, checks each and prints the table of
docs/families.md:
    python scripts/hf_check.py --all [--qklab .build/debug/qklab]
One smoke run per layout by hand:
    qklab train --config configs/smoke.toml --run-dir runs/hf-gemma3 --set model.block_norm=sandwich \
        --set model.norm_weight=offset --set model.mlp=geglu --set model.embed_scale=true
    qklab train --config configs/smoke.toml --run-dir runs/hf-qwen3-next --set model.norm_weight=offset \
        --set model.rope_fraction=0.25
    qklab train --config configs/smoke.toml --run-dir runs/hf-olmo3 --set model.block_norm=post --set model.qk_norm=full
    python scripts/hf_check.py runs/hf-gemma3; python scripts/hf_check.py runs/hf-qwen3-next
    python scripts/hf_check.py runs/hf-olmo3 --class Olmo3ForCausalLM
The attention variants (sliding-window layers, their RoPE base, soft-caps) go with the presets that
have them, trained on the smoke corpus; soft-caps of 50 and 30 barely bend a short run's logits, so
a tight-cap run checks the caps themselves:
    qklab train --config configs/families/gemma2.toml --set data.path=data/smoke.txt \
        --set train.max_steps=40 --run-dir runs/hf-gemma2            (likewise gemma3.toml, olmo3.toml)
    qklab train --config configs/smoke.toml --run-dir runs/hf-gemma2-caps --set model.block_norm=sandwich \
        --set model.qk_norm=off --set model.norm_weight=offset --set model.mlp=geglu \
        --set model.embed_scale=true --set model.attn_softcap=2 --set model.final_softcap=3 \
        --set model.sliding_window=8 --set model.global_every=2

Setup (the script installs nothing; Python 3.10+):
    python3 -m venv /tmp/hfenv
    /tmp/hfenv/bin/pip install numpy safetensors transformers
    /tmp/hfenv/bin/pip install torch
torch from PyPI is the CUDA build and needs its nvidia-* libraries even on a CPU-only machine
(~4.5 GB in all): `pip install --no-deps torch` installs, but `import torch` then fails with
"libcublasLt.so.*[0-9] not found". Where PyTorch's own CPU-only wheel index is reachable, install
torch from there instead (`pip install torch --index-url <that index>`, ~200 MB).

Usage:
    swift build -c release
    /tmp/hfenv/bin/python scripts/hf_check.py runs/smoke [--qklab .build/release/qklab] [--out DIR]
        [--text TEXT | --seed S] [--prompt TEXT] [--tokens N] [--tolerance X]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import safetensors.numpy
    import torch
    from transformers import AutoModelForCausalLM
except ImportError as missing:
    sys.exit(f"hf_check.py: {missing} (Python {sys.executable}): run it with the Python of the setup above "
             "(e.g. /tmp/hfenv/bin/python scripts/hf_check.py RUN)")

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def qklab(args, *arguments):
    """stdout of `qklab ARGUMENTS…`; stops the check with qklab's message if it fails."""
    result = subprocess.run([args.qklab, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"qklab {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout


def load_model(folder):
    """The exported folder in transformers; exits if the load was partial in any way."""
    model, info = AutoModelForCausalLM.from_pretrained(
        folder, attn_implementation="eager", dtype=torch.float32, output_loading_info=True)
    problems = {key: value for key, value in info.items() if value}
    if problems:
        sys.exit(f"transformers did not load {folder} cleanly: {problems}")
    return model.eval()


def loaded_tensor(state, name):
    """The loaded model's tensor for the file's `name`. MiniMax-M2's released names
    (block_sparse_moe.gate, .e_score_correction_bias, .experts.0.w1/w3/w2, which QKLab's export
    writes) are held by transformers as mlp.gate, mlp.e_score_correction_bias and the fused
    mlp.experts.gate_up_proj [E, 2F, d] = [w1 ; w3] and down_proj [E, d, F]."""
    if ".block_sparse_moe." not in name:
        return state[name].numpy()
    layer, part = name.split(".block_sparse_moe.")
    if part.startswith("experts.0."):
        projection = part.split(".")[2]
        if projection == "w2":
            return state[f"{layer}.mlp.experts.down_proj"][0].numpy()
        fused = state[f"{layer}.mlp.experts.gate_up_proj"][0].numpy()
        half = fused.shape[0] // 2
        return fused[:half] if projection == "w1" else fused[half:]
    return state[f"{layer}.mlp.{part}"].numpy()


def check_weights(model, folder):
    """Every tensor of model.safetensors is in the model, bit for bit; returns how many."""
    stored = safetensors.numpy.load_file(os.path.join(folder, "model.safetensors"))
    state = model.state_dict()
    for name, values in stored.items():
        if not np.array_equal(loaded_tensor(state, name), values):
            sys.exit(f"{name} differs between model.safetensors and the loaded model")
    if model.config.tie_word_embeddings:
        if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
            sys.exit("tie_word_embeddings is true but lm_head is not the token embedding")
    return len(stored)


def gate_rows(model):
    """Qwen3-Next: the largest |value| of the attention output gate rows of q_proj (laid out per
    head as [query ; gate]), which a QKLab export writes as zeros; None for other classes."""
    config = model.config
    if config.model_type != "qwen3_next":
        return None
    largest = 0.0
    for layer in model.model.layers:
        rows = layer.self_attn.q_proj.weight.detach().numpy().reshape(config.num_attention_heads, 2, config.head_dim, -1)
        largest = max(largest, float(np.abs(rows[:, 1]).max()))
    return largest


def read_json(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as file:
        return json.load(file)


def encode(text, vocabulary, option):
    """Ids of `text` in the exported vocabulary; exits naming the characters it lacks."""
    unknown = sorted(set(text) - set(vocabulary))
    if unknown:
        sys.exit(f"{option}: characters not in the vocabulary: {unknown}")
    return [vocabulary.index(character) for character in text]


def hf_logits(model, ids):
    """[T, V] float32 logits of one sequence."""
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def hf_greedy(model, prompt_ids, tokens, block_size):
    """Greedy continuation as `qklab sample --temperature 0` makes it (GenerationContext): the
    context starts as the prompt's last block_size ids; a token that would make it longer than
    block_size leaves only the newest ceil(block_size / 2) ids, itself included; a tie goes to the
    lowest id (as torch.argmax does)."""
    window, generated = list(prompt_ids)[-block_size:], []
    for _ in range(tokens):
        token = int(hf_logits(model, window)[-1].argmax())
        generated.append(token)
        window = (window + [token])[-((block_size + 1) // 2):] if len(window) == block_size else window + [token]
    return generated


def run_folder(path):
    """The run folder of RUN (a run folder, or one of its checkpoints/step-N folders)."""
    for folder in (path, os.path.dirname(os.path.dirname(os.path.abspath(path)))):
        if os.path.exists(os.path.join(folder, "config.toml")):
            return folder
    sys.exit(f"no config.toml in {path} or the run folder above it")


def imported_logits(args, run, model, out, ids, scratch):
    """Logits of `ids` in a QKLab run started (--init-from, with `run`'s config) from
    transformers' save_pretrained of `model`; both folders made in `scratch`."""
    saved = os.path.join(scratch, "saved")
    model.save_pretrained(saved)
    with open(os.path.join(out, "vocab.json"), encoding="utf-8") as source, \
            open(os.path.join(saved, "vocab.json"), "w", encoding="utf-8") as copy:
        copy.write(source.read())
    imported = os.path.join(scratch, "imported")
    qklab(args, "train", "--config", os.path.join(run_folder(run), "config.toml"), "--init-from", saved,
          "--run-dir", imported, "--set", "train.max_steps=1", "--set", "optim.lr=1e-30", "--set", "optim.min_lr=1e-30", "--set", "train.eval_interval=0")
    reference = json.loads(qklab(args, "logits", imported, "--tokens", ",".join(map(str, ids))))
    return np.array(reference["logits"], dtype=np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", help="run folder or checkpoint folder (not with --all)")
    parser.add_argument("--all", action="store_true", help="train and check a smoke run of every class; print the table")
    parser.add_argument("--qklab", default=os.path.join(REPOSITORY, ".build/release/qklab"))
    parser.add_argument("--class", dest="class_name", help="Hugging Face class for export-hf --class (e.g. Olmo3ForCausalLM)")
    parser.add_argument("--out", help="export folder, kept (default: a temporary folder, removed at the end)")
    parser.add_argument("--text", help="sequence for the logits (default: random ids of length block_size)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sequence")
    parser.add_argument("--prompt", default="\n", help="prompt of the greedy generation")
    parser.add_argument("--tokens", type=int, default=200, help="characters to generate")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="max |Δ logits| per unit of max(1, max |logit|)")
    args = parser.parse_args()
    if (args.run is None) == (not args.all):
        parser.error("give a run folder, or --all")
    with tempfile.TemporaryDirectory(prefix="qklab-hf-") as scratch:   # removed at the end, whatever happens
        if not args.all:
            sys.exit(0 if check(args, args.run, args.class_name, scratch)["passed"] else 1)
        sys.exit(0 if check_every_class(args, scratch) else 1)


# Every class, as (label, export-hf --class or None for the layout's default, the family preset's
# switches on configs/smoke.toml).
CLASSES = [
    ("Qwen3ForCausalLM", None, []),
    ("LlamaForCausalLM", None, ["model.qk_norm=off"]),
    ("Olmo2ForCausalLM", None, ["model.block_norm=post", "model.qk_norm=full"]),
    ("Olmo3ForCausalLM", "Olmo3ForCausalLM", ["model.block_norm=post", "model.qk_norm=full",
                                              "model.sliding_window=8", "model.global_every=2"]),
    ("Gemma3ForCausalLM", None, ["model.block_norm=sandwich", "model.norm_weight=offset", "model.mlp=geglu",
                                 "model.embed_scale=true", "model.sliding_window=8", "model.global_every=2",
                                 "model.rope_theta=1e6", "model.rope_local_theta=1e4"]),
    ("Gemma2ForCausalLM", None, ["model.block_norm=sandwich", "model.qk_norm=off", "model.norm_weight=offset",
                                 "model.mlp=geglu", "model.embed_scale=true", "model.sliding_window=8",
                                 "model.global_every=2", "model.attn_softcap=2", "model.final_softcap=3"]),
    ("Qwen3NextForCausalLM", None, ["model.norm_weight=offset", "model.rope_fraction=0.25",
                                    "optim.decay_norm_weights=true"]),
    ("Glm4MoeForCausalLM (GLM-4.5)", None, ["model.rope_fraction=0.5", "model.attention_bias=true"]),
    ("MiniMaxM2ForCausalLM", None, ["model.qk_norm=full", "model.rope_fraction=0.5"]),
    ("Glm4MoeForCausalLM (sarvam_moe)", "sarvam_moe", ["model.rope_theta=8e6"]),
]


def check_every_class(args, scratch):
    """Trains a 40-step smoke run per class of CLASSES, checks it and prints the table; True when
    every class passes."""
    rows = []
    for index, (label, class_name, switches) in enumerate(CLASSES):
        run = os.path.join(scratch, f"run-{index}")
        sets = [argument for switch in ["train.max_steps=40", *switches] for argument in ("--set", switch)]
        qklab(args, "train", "--config", os.path.join(REPOSITORY, "configs/smoke.toml"), "--run-dir", run, *sets)
        print(f"\n== {label}: {' '.join(switches) or '(smoke.toml as it is)'}")
        rows.append((label, check(args, run, class_name, os.path.join(scratch, f"check-{index}"))))
    print("\n| class | max \\|Δ logits\\| export → transformers | save_pretrained → `--init-from`, vs transformers "
          "| vs the original run | greedy text (200 chars) |")
    print("|---|---|---|---|---|")
    for label, result in rows:
        print(f"| `{label}` | {result['delta']:.2g} | {result['back_delta']:.2g} | "
              f"{'identical' if result['same_back'] else 'differs'} | "
              f"{'identical' if result['same_text'] else 'differs'} |")
    return all(result["passed"] for _, result in rows)


def check(args, run, class_name, scratch):
    """Steps 1–5 of the description above for `run`, exported as `class_name` (or its layout's
    class); the export goes to --out or into `scratch`. Returns the measurements and whether
    they pass."""
    os.makedirs(scratch, exist_ok=True)
    out = args.out if args.out and not args.all else os.path.join(scratch, "export")
    print(qklab(args, "export-hf", run, out, *(["--class", class_name] if class_name else [])).strip())
    vocabulary = read_json(out, "vocab.json")
    block_size = read_json(out, "config.json")["max_position_embeddings"]

    model = load_model(out)
    print(f"{type(model).__name__}: all {check_weights(model, out)} tensors loaded, identical to model.safetensors")
    gate = gate_rows(model)
    if gate is not None:
        print(f"attention output gate rows: max |value| = {gate} (0: sigmoid(0) = 0.5 exactly, undone by o_proj × 2)")
        if gate != 0:
            sys.exit("the attention output gate is live: this is not a QKLab export")

    if args.text is not None:
        ids = encode(args.text, vocabulary, "--text")
    else:
        ids = np.random.default_rng(args.seed).integers(0, len(vocabulary), block_size).tolist()
    reference = json.loads(qklab(args, "logits", run, "--tokens", ",".join(map(str, ids))))
    qklab_logits = np.array(reference["logits"], dtype=np.float32)
    delta = float(np.abs(hf_logits(model, ids) - qklab_logits).max())
    scale = max(1.0, float(np.abs(qklab_logits).max()))
    print(f"logits of {len(ids)} tokens: max |Δ| = {delta:.3g} (max |logit| {np.abs(qklab_logits).max():.3g}, "
          f"relative {delta / scale:.3g})")

    qklab_text = qklab(args, "sample", run, "--prompt", args.prompt, "--tokens", str(args.tokens),
                       "--temperature", "0")[len(args.prompt):-1]   # print() adds one newline
    prompt_ids = encode(args.prompt, vocabulary, "--prompt")
    hf_text = "".join(vocabulary[i] for i in hf_greedy(model, prompt_ids, args.tokens, block_size))
    same_text = hf_text == qklab_text
    if same_text:
        print(f"greedy text ({args.tokens} characters): identical")
    else:
        first = next(i for i, (a, b) in enumerate(zip(hf_text + "\0", qklab_text + "\0")) if a != b)
        print(f"greedy text differs from character {first}:\n  qklab:        {qklab_text!r}\n  transformers: {hf_text!r}")

    back = imported_logits(args, run, model, out, ids, scratch)
    back_delta = float(np.abs(hf_logits(model, ids) - back).max())
    same_back = np.array_equal(back, qklab_logits)
    print(f"save_pretrained → qklab train --init-from: max |Δ logits| = {back_delta:.3g} (relative {back_delta / scale:.3g}); "
          f"{'identical to' if same_back else 'DIFFERENT from'} the original run's logits")

    passed = delta <= args.tolerance * scale and back_delta <= args.tolerance * scale and same_text and same_back
    print("PASS" if passed else "FAIL")
    return {"delta": delta, "back_delta": back_delta, "same_text": same_text, "same_back": same_back, "passed": passed}


if __name__ == "__main__":
    main()
