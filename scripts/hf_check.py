#!/usr/bin/env python3
"""Check a QKLab run against Hugging Face `transformers`: same weights, same logits, same greedy text.

For the run folder RUN it
  1. exports it with `qklab export-hf RUN OUT`,
  2. loads OUT with `AutoModelForCausalLM` (float32, eager attention: the default SDPA path adds
     ~2e-5 of error) and fails if any weight is missing, unexpected or different from the file,
  3. runs one token sequence (random ids of length block_size, or --text) through both and prints
     max |Δ logits| against `qklab logits`,
  4. greedy-generates from --prompt in both, with QKLab's context window (the last block_size ids),
     and compares the text with `qklab sample --temperature 0`.
Exit status 0 when max |Δ| < --tolerance (default 1e-4) and the texts match, else 1.

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

import numpy as np
import safetensors.numpy
import torch
from transformers import AutoModelForCausalLM

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


def check_weights(model, folder):
    """Every tensor of model.safetensors is in the model, bit for bit; returns how many."""
    stored = safetensors.numpy.load_file(os.path.join(folder, "model.safetensors"))
    state = model.state_dict()
    for name, values in stored.items():
        if not np.array_equal(state[name].numpy(), values):
            sys.exit(f"{name} differs between model.safetensors and the loaded model")
    if model.config.tie_word_embeddings:
        if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
            sys.exit("tie_word_embeddings is true but lm_head is not the token embedding")
    return len(stored)


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
    """Greedy continuation as `qklab sample --temperature 0` makes it: the context is the last
    block_size ids, and a tie goes to the lowest id (as torch.argmax does)."""
    ids = list(prompt_ids)
    for _ in range(tokens):
        ids.append(int(hf_logits(model, ids[-block_size:])[-1].argmax()))
    return ids[len(prompt_ids):]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="run folder or checkpoint folder")
    parser.add_argument("--qklab", default=os.path.join(REPOSITORY, ".build/release/qklab"))
    parser.add_argument("--out", help="export folder (default: a new temporary folder)")
    parser.add_argument("--text", help="sequence for the logits (default: random ids of length block_size)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sequence")
    parser.add_argument("--prompt", default="\n", help="prompt of the greedy generation")
    parser.add_argument("--tokens", type=int, default=200, help="characters to generate")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="qklab-hf-")
    print(qklab(args, "export-hf", args.run, out).strip())
    vocabulary = read_json(out, "vocab.json")
    block_size = read_json(out, "config.json")["max_position_embeddings"]

    model = load_model(out)
    print(f"{type(model).__name__}: all {check_weights(model, out)} tensors loaded, identical to model.safetensors")

    if args.text is not None:
        ids = encode(args.text, vocabulary, "--text")
    else:
        ids = np.random.default_rng(args.seed).integers(0, len(vocabulary), block_size).tolist()
    reference = json.loads(qklab(args, "logits", args.run, "--tokens", ",".join(map(str, ids))))
    qklab_logits = np.array(reference["logits"], dtype=np.float32)
    delta = float(np.abs(hf_logits(model, ids) - qklab_logits).max())
    print(f"logits of {len(ids)} tokens: max |Δ| = {delta:.3g} (max |logit| {np.abs(qklab_logits).max():.3g})")

    qklab_text = qklab(args, "sample", args.run, "--prompt", args.prompt, "--tokens", str(args.tokens),
                       "--temperature", "0")[len(args.prompt):-1]   # print() adds one newline
    prompt_ids = encode(args.prompt, vocabulary, "--prompt")
    hf_text = "".join(vocabulary[i] for i in hf_greedy(model, prompt_ids, args.tokens, block_size))
    same_text = hf_text == qklab_text
    if same_text:
        print(f"greedy text ({args.tokens} characters): identical")
    else:
        first = next(i for i, (a, b) in enumerate(zip(hf_text + "\0", qklab_text + "\0")) if a != b)
        print(f"greedy text differs from character {first}:\n  qklab:        {qklab_text!r}\n  transformers: {hf_text!r}")

    passed = delta < args.tolerance and same_text
    print("PASS" if passed else "FAIL")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
