#!/usr/bin/env python3
"""Golden references for the pruning tests: transformers run on checkpoints that
`verdant prune` wrote.

Run from the repository root after `swift build`:

    /work/venv/bin/python scripts/make_pruning_fixtures.py [--verdant .build/debug/verdant]

For each case below the script runs `verdant prune FIXTURE ARGS --out TMP`, loads TMP with
transformers (AutoModelForCausalLM, eager attention, float32 math) and records the plan Verdant
chose, the logits for 12 fixed ids and, when the vocabulary was pruned, what the `tokenizers`
library makes of the rebuilt tokenizer.json. Tests/VerdantCompressTests/PrunedParityTests.swift
applies each recorded plan again with Verdant and compares: Verdant's output must load in
transformers with the same logits, and tokenize as `tokenizers` does.

It also writes the `gpt2-tok` fixture (a tiny random GPT-2 with the demo model's byte-level BPE
tokenizer), so that vocabulary pruning and calibrated scoring are covered for the GPT-2 family.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import transformers
from safetensors import safe_open
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "Tests", "VerdantModelsTests", "Fixtures", "models")
HERE = os.path.join(ROOT, "Tests", "VerdantCompressTests", "Fixtures")
CASES_DIR = os.path.join(HERE, "pruning")
CORPUS = os.path.join(HERE, "corpus.txt")
STUDENTS = os.path.join(HERE, "students")

RANDOM = ["--heads-criterion", "random", "--ffn-criterion", "random", "--criterion", "last"]
CALIBRATED = ["--calibration", CORPUS, "--calibration-tokens", "256", "--calibration-length", "64"]

# name -> (fixture, verdant prune arguments)
CASES = {
    "llama-gqa-heads-ffn": ("llama-gqa-f32", ["--heads-ratio", "0.5", "--ffn-ratio", "0.25", "--seed", "1"] + RANDOM),
    "llama-mqa-bias-heads-layers": ("llama-attn-bias", ["--heads-ratio", "0.5", "--drop-layers", "1"] + RANDOM),
    "qwen2-tied-all-structural": ("qwen2-tied", ["--heads-ratio", "0.5", "--ffn-ratio", "0.5", "--drop-layers", "1"] + RANDOM),
    "mistral-f16-ffn-global": ("mistral-f16", ["--ffn-ratio", "0.3", "--ffn-allocation", "global", "--seed", "2"] + RANDOM),
    "llama-bf16-tied-heads-ffn": ("llama-bf16-tied-oldrope", ["--heads-ratio", "0.5", "--ffn-ratio", "0.25"] + RANDOM),
    "llama-linear-rope-ffn": ("llama-linear-rope", ["--ffn-ratio", "0.5"] + RANDOM),
    "llama-sharded-ffn-layers": ("llama-sharded", ["--ffn-ratio", "0.5", "--drop-layers", "1"] + RANDOM),
    "gpt2-heads-ffn-layers": ("gpt2", ["--heads-ratio", "0.5", "--ffn-ratio", "0.25", "--drop-layers", "1"] + RANDOM),
    "gpt2-bf16-ffn-global": ("gpt2-bf16", ["--ffn-ratio", "0.4", "--ffn-allocation", "global"] + RANDOM),
    "bigcode-mqa-heads-ffn": ("bigcode-mqa", ["--heads-ratio", "0.5", "--ffn-ratio", "0.25"] + RANDOM),
    "bigcode-mha-heads-ffn": ("bigcode-mha", ["--heads-ratio", "0.25", "--ffn-ratio", "0.5"] + RANDOM),
    "demo-all-four": ("demo", ["--vocab-corpus", CORPUS, "--drop-layers", "1", "--criterion", "bi",
                               "--heads-ratio", "0.5", "--ffn-ratio", "0.25"] + CALIBRATED),
    "gpt2-tok-all-four": ("gpt2-tok", ["--vocab-corpus", CORPUS, "--drop-layers", "1", "--criterion", "kl",
                                       "--heads-ratio", "0.25", "--ffn-ratio", "0.25"] + CALIBRATED),
    # Students cut out of a teacher to an exact config (`--to-config`, what `verdant distill
    # --init from-teacher` does): hidden channels, KV groups + query heads, FFN, layers, vocabulary.
    "demo-to-student-bi": ("demo", ["--to-config", os.path.join(STUDENTS, "demo-student-bi.json"),
                                    "--vocab-corpus", CORPUS] + CALIBRATED),
    "demo-to-student-even": ("demo", ["--to-config", os.path.join(STUDENTS, "demo-student-even.json"),
                                      "--layer-choice", "even"] + CALIBRATED),
    # Hidden-channel slicing of the bias-carrying families, from a written plan.
    "qwen2-tied-hidden-plan": ("qwen2-tied", ["--plan", os.path.join(STUDENTS, "qwen2-tied-hidden-plan.json")]),
    "llama-attn-bias-hidden-plan": ("llama-attn-bias", ["--plan", os.path.join(STUDENTS, "llama-attn-bias-hidden-plan.json")]),
}

TOKENIZER_CHECKS = ["import os\n", "def quux(zeta):\n    return zeta ** 2\n", "héllo wörld ✓ 🙂", "<|endoftext|>x"]
INPUT_LEN = 12


def sig(x, digits=6):
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits - 1}e}")


def fixture_dir(name):
    local = os.path.join(HERE, "models", name)
    return local if os.path.isdir(local) else os.path.join(MODELS, name)


def make_gpt2_tok():
    """A tiny random GPT-2 (vocab 512) with the demo tokenizer."""
    directory = os.path.join(HERE, "models", "gpt2-tok")
    shutil.rmtree(directory, ignore_errors=True)
    config = GPT2Config(vocab_size=512, n_positions=128, n_embd=32, n_layer=2, n_head=4,
                        bos_token_id=0, eos_token_id=0, initializer_range=0.25)
    torch.manual_seed(2100)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("bias") or ".ln_" in n:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(directory)
    gen = os.path.join(directory, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(os.path.join(MODELS, "demo", f), os.path.join(directory, f))
    with safe_open(os.path.join(directory, "model.safetensors"), framework="pt") as st:
        assert "lm_head.weight" not in st.keys()
    print("gpt2-tok: written")


def write_student_inputs():
    """The student configs and plans the cases above read (derived from the fixtures' configs)."""
    os.makedirs(STUDENTS, exist_ok=True)
    demo = json.load(open(os.path.join(fixture_dir("demo"), "config.json")))
    students = {
        # 2 -> 1 layer, hidden 64 -> 40, 4 heads / 2 KV -> 2 heads / 1 KV group, FFN 128 -> 48, vocab 512 -> 320.
        "demo-student-bi": dict(num_hidden_layers=1, hidden_size=40, num_attention_heads=2, num_key_value_heads=1,
                                head_dim=16, intermediate_size=48, vocab_size=320),
        # Both layers (nothing to choose), one query head per KV group, hidden 48, FFN 64.
        "demo-student-even": dict(num_hidden_layers=2, hidden_size=48, num_attention_heads=2, num_key_value_heads=2,
                                  head_dim=16, intermediate_size=64),
    }
    for name, changes in students.items():
        config = dict(demo)
        config.update(changes)
        with open(os.path.join(STUDENTS, name + ".json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    g = torch.Generator().manual_seed(3)
    for name, fixture in [("qwen2-tied-hidden-plan", "qwen2-tied"), ("llama-attn-bias-hidden-plan", "llama-attn-bias")]:
        hidden = json.load(open(os.path.join(fixture_dir(fixture), "config.json")))["hidden_size"]
        kept = sorted(torch.randperm(hidden, generator=g)[: hidden * 3 // 4].tolist())
        with open(os.path.join(STUDENTS, name + ".json"), "w") as f:
            json.dump({"kept_hidden_channels": kept}, f)
            f.write("\n")


def num_parameters(directory):
    total = 0
    with safe_open(os.path.join(directory, "model.safetensors"), framework="pt") as st:
        for k in st.keys():
            total += st.get_tensor(k).numel()
    return total


def run_case(verdant, name, fixture, args):
    src = fixture_dir(fixture)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        cmd = [verdant, "prune", src, "--out", out, "--threads", "1"] + args
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        report = json.load(open(os.path.join(out, "pruning_report.json")))
        config = json.load(open(os.path.join(out, "config.json")))
        model = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").float().eval()
        n_params = num_parameters(out)
        assert n_params == model.num_parameters(), (n_params, model.num_parameters())
        assert n_params == report["parameters_after"], (n_params, report["parameters_after"])
        vocab = config["vocab_size"]
        g = torch.Generator().manual_seed(len(name))
        input_ids = torch.randint(0, vocab, (INPUT_LEN,), generator=g).tolist()
        with torch.no_grad():
            logits = model(torch.tensor([input_ids])).logits[0]
        ref = {
            "case": name,
            "model": fixture,
            "args": [a.replace(ROOT + "/", "") for a in args],
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "plan": report["plan"],
            "config": {k: config.get(k) for k in ["num_hidden_layers", "n_layer", "hidden_size", "intermediate_size", "n_inner",
                                                   "num_attention_heads", "num_key_value_heads", "head_dim",
                                                   "vocab_size"] if k in config},
            "num_parameters": n_params,
            "zeroed_parameters": report["zeroed_parameters"],
            "input_ids": input_ids,
            "logits": [[sig(v) for v in row] for row in logits.tolist()],
        }
        if "vocabulary_kept_ids" in report["plan"]:
            pruned_tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
            original_tok = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
            kept = report["plan"]["vocabulary_kept_ids"]
            new_id = {old: new for new, old in enumerate(kept)}
            corpus = open(CORPUS).read()
            # The pruned tokenizer (as HF tokenizers reads it) reproduces the corpus tokenization
            # (a vocabulary limited by frequency drops corpus tokens: its ids are Verdant's, checked below).
            if not report.get("vocabulary", {}).get("stats", {}).get("size_limit"):
                expected = [new_id[i] for i in original_tok.encode(corpus).ids]
                assert pruned_tok.encode(corpus).ids == expected, "corpus tokenization differs"
            AutoTokenizer.from_pretrained(out)  # loads through transformers too
            ref["tokenizer_checks"] = {s: pruned_tok.encode(s).ids for s in TOKENIZER_CHECKS}
            # tokenizers skips special tokens when decoding by default.
            ref["decode_checks"] = {s: pruned_tok.decode(pruned_tok.encode(s).ids) for s in TOKENIZER_CHECKS}
    with open(os.path.join(CASES_DIR, name + ".json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(f"{name}: {n_params} params, config {ref['config']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verdant", default=os.path.join(ROOT, ".build", "debug", "verdant"))
    ap.add_argument("--only", nargs="*", help="case names")
    ap.add_argument("--skip-gpt2-tok", action="store_true", help="keep the existing gpt2-tok fixture")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.skip_gpt2_tok:
        make_gpt2_tok()
    os.makedirs(CASES_DIR, exist_ok=True)
    write_student_inputs()
    for name, (fixture, cli) in CASES.items():
        if args.only and name not in args.only:
            continue
        run_case(args.verdant, name, fixture, cli)


if __name__ == "__main__":
    sys.exit(main())
