#!/usr/bin/env python3
"""Create benchmark-only models for scripts/bench_compare.py.

Currently one model: a *randomly initialised* Qwen2ForCausalLM with exactly the
shape of Qwen2.5-Coder-0.5B (hidden 896, 24 layers, 14 query / 2 KV heads,
head_dim 64, intermediate 4864, vocab 151936, tied embeddings, qkv bias),
stored as bf16 safetensors in a Hugging Face directory outside the repo
(default: $HOME/.cache/verdant/models/qwen2.5-coder-0.5b-shape).

Its outputs are meaningless; it exists so that speed can be measured at a
realistic size without downloading weights (no hub access here).

Tokenizer: llama.cpp's convert_hf_to_gguf.py needs a tokenizer whose vocab
covers every id < vocab_size.  We take the byte-level BPE tokenizer of
../shared/models/pycoder-llama-19m (its pre-tokenizer regex is the Qwen2 one)
and pad its BPE vocabulary with unreachable filler tokens ("<|bench_fill_N|>")
until it has exactly 151936 entries; merges are unchanged.  The converter's
pre-tokenizer hash check does not know this tokenizer; bench_compare.py handles
that (see convert_to_gguf there).  Prompts are fed as token ids, so the
tokenizer never influences the measurement.

Needs: torch, transformers, safetensors (e.g. the bench venv).  Deterministic:
seed 0 (torch.manual_seed) -> identical weights on every run of the same
torch version.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOKENIZER_SRC = REPO.parent / "shared" / "models" / "pycoder-llama-19m"
DEFAULT_OUT = Path(os.environ.get("HOME", "/root")) / ".cache" / "verdant" / "models" / "qwen2.5-coder-0.5b-shape"

QWEN_SHAPE = dict(
    hidden_size=896,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    head_dim=64,
    intermediate_size=4864,
    vocab_size=151936,
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
    max_position_embeddings=32768,
    hidden_act="silu",
    bos_token_id=151643,
    eos_token_id=151643,
    use_sliding_window=False,
    sliding_window=None,
    max_window_layers=24,
    attention_dropout=0.0,
    initializer_range=0.02,
    use_cache=True,
)
ROPE_THETA = 1_000_000.0


def make_tokenizer(src_dir: Path, out_dir: Path, vocab_size: int) -> None:
    """Write tokenizer.json + tokenizer_config.json with exactly vocab_size ids."""
    tok = json.loads((src_dir / "tokenizer.json").read_text())
    model = tok["model"]
    if model.get("type") != "BPE":
        raise SystemExit(f"expected a BPE tokenizer in {src_dir}, got {model.get('type')}")
    vocab: dict[str, int] = model["vocab"]
    # Added tokens (e.g. <|endoftext|>) keep their ids; they must be < vocab_size.
    used_ids = set(vocab.values()) | {a["id"] for a in tok.get("added_tokens", [])}
    if max(used_ids) >= vocab_size:
        raise SystemExit("source tokenizer is larger than the target vocab")
    n = 0
    for i in range(vocab_size):
        if i in used_ids:
            continue
        while True:
            name = f"<|bench_fill_{n}|>"
            n += 1
            if name not in vocab:
                break
        vocab[name] = i
    ids = sorted(vocab.values()) + [a["id"] for a in tok.get("added_tokens", []) if a["content"] not in vocab]
    assert sorted(set(ids)) == list(range(vocab_size)), "tokenizer ids are not exactly 0..vocab_size-1"
    (out_dir / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 32768}
    src_cfg = src_dir / "tokenizer_config.json"
    if src_cfg.exists():
        old = json.loads(src_cfg.read_text())
        for k in ("bos_token", "eos_token", "unk_token", "pad_token"):
            if k in old:
                cfg[k] = old[k]
    (out_dir / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1))


def make_qwen_shape(out_dir: Path, tokenizer_src: Path, seed: int) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    try:  # transformers >= 5 keeps rope settings in rope_parameters
        config = Qwen2Config(**QWEN_SHAPE, rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA})
    except TypeError:
        config = Qwen2Config(**QWEN_SHAPE, rope_theta=ROPE_THETA)
    if getattr(config, "rope_theta", ROPE_THETA) != ROPE_THETA:
        config.rope_theta = ROPE_THETA
    t0 = time.time()
    model = Qwen2ForCausalLM(config)  # random init (normal(0, initializer_range))
    # transformers initialises biases to zero; give the qkv biases small random
    # values so they are not trivially skippable.
    with torch.no_grad():
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0.0, 0.02)
    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    n_params = sum(p.numel() for p in model.parameters())
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    make_tokenizer(tokenizer_src, tmp, config.vocab_size)
    (tmp / "README.md").write_text(
        "Random-initialised Qwen2 model with the shape of Qwen2.5-Coder-0.5B, made by "
        f"verdant scripts/make_bench_models.py (seed {seed}). For speed benchmarks only: "
        "its outputs are meaningless.\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    print(f"wrote {out_dir} ({n_params/1e6:.1f}M params, {time.time()-t0:.0f}s)")


def is_complete(out_dir: Path) -> bool:
    return all((out_dir / f).exists() for f in ("config.json", "tokenizer.json")) and \
        any(out_dir.glob("*.safetensors"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("VERDANT_BENCH_QWEN_DIR", DEFAULT_OUT)),
                    help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--tokenizer-from", type=Path, default=DEFAULT_TOKENIZER_SRC,
                    help="model dir whose tokenizer.json is padded to the Qwen vocab size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="recreate even if the output exists")
    args = ap.parse_args(argv)
    if is_complete(args.out) and not args.force:
        print(f"reusing {args.out}")
        return 0
    if not (args.tokenizer_from / "tokenizer.json").exists():
        print(f"error: no tokenizer.json in {args.tokenizer_from}", file=sys.stderr)
        return 2
    make_qwen_shape(args.out, args.tokenizer_from, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
