#!/usr/bin/env python3
"""Tiny reference checkpoints for VerdantModelsTests, computed with transformers.

Run from the repository root:

    /work/venv/bin/python scripts/make_model_fixtures.py [--skip-demo-training]

Everything is random-initialised from fixed seeds (no downloads). Each fixture directory
`Tests/VerdantModelsTests/Fixtures/models/<name>/` holds what `save_pretrained` writes plus
`reference.json` (see Tests/VerdantModelsTests/Fixtures/README.md for the fields).

References are computed from the checkpoint *as saved* (loaded back with from_pretrained,
then `.float()`), so compact storage (bf16/f16) is rounded exactly as Verdant sees it while
the arithmetic is float32 like Verdant's accumulators.
"""

import argparse
import json
import lzma
import math
import os
import shutil
import sys

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    GPTBigCodeConfig,
    GPTBigCodeForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "VerdantModelsTests", "Fixtures", "models")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))

INPUT_LEN = 12
GREEDY_PROMPT_LEN = 6
GREEDY_NEW = 10
PPL_STREAM_LEN = 100
PPL_CONTEXT = 32
# Random-init weights at the default 0.02 give near-uniform logits whose argmax flips
# with summation order; a wider init makes greedy references robust to f32 reordering.
INIT_RANGE = 0.25


def sig(x, digits=6):
    """Round to `digits` significant digits (keeps reference.json small)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits - 1}e}")


def round_nested(rows):
    return [[sig(v) for v in row] for row in rows]


def ids_for(seed, n, vocab):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab, (n,), generator=g).tolist()


def tensor_numels(directory):
    """Tensor count by reading the safetensors files themselves (what Verdant counts)."""
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    total, names, dtypes = 0, [], {}
    for f in files:
        with safe_open(os.path.join(directory, f), framework="pt") as st:
            for k in st.keys():
                t = st.get_tensor(k)
                total += t.numel()
                names.append(k)
                key = str(t.dtype).replace("torch.", "")
                dtypes[key] = dtypes.get(key, 0) + 1
    return total, sorted(names), dtypes


def perplexity(model, stream, context):
    """Non-overlapping windows of `context`; last partial window counts if >= 2 tokens;
    every token after the first of a window is predicted from its prefix in that window."""
    nll_sum, predicted = 0.0, 0
    for start in range(0, len(stream), context):
        window = stream[start:start + context]
        if len(window) < 2:
            break
        with torch.no_grad():
            logits = model(torch.tensor([window])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        for i in range(1, len(window)):
            nll_sum -= logp[i - 1, window[i]].item()
            predicted += 1
    return {
        "context": context,
        "tokens": stream,
        "nll_sum": nll_sum,
        "predicted_tokens": predicted,
        "perplexity": math.exp(nll_sum / predicted),
    }


def greedy(model, prompt):
    """Greedy continuation via generate() with eos stopping disabled, cross-checked
    against a cache-free argmax loop; also the top-1/top-2 logit margin per step."""
    gen = GenerationConfig(do_sample=False, max_new_tokens=GREEDY_NEW,
                           eos_token_id=None, bos_token_id=None, pad_token_id=0)
    # generate() merges the model's own generation_config (eos from config.json) into `gen`.
    model.generation_config.eos_token_id = None
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), generation_config=gen,
                             attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    new = out[0, len(prompt):].tolist()
    seq, margins = list(prompt), []
    for _ in range(GREEDY_NEW):
        with torch.no_grad():
            last = model(torch.tensor([seq])).logits[0, -1]
        top = torch.topk(last, 2)
        margins.append(sig((top.values[0] - top.values[1]).item(), 4))
        seq.append(int(top.indices[0]))
    assert seq[len(prompt):] == new, (seq[len(prompt):], new)
    return new, margins


def edit_config(directory, fn):
    path = os.path.join(directory, "config.json")
    cfg = json.load(open(path))
    fn(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def strip_tensor(directory, name):
    """Rewrite model.safetensors without `name` (tied checkpoints must not carry lm_head)."""
    path = os.path.join(directory, "model.safetensors")
    with safe_open(path, framework="pt") as st:
        meta = st.metadata()
        tensors = {k: st.get_tensor(k) for k in st.keys() if k != name}
    save_file(tensors, path, metadata=meta)


def build(name, cls, config, dtype, seed, *, shard=None, config_edit=None, notes=""):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    config.initializer_range = INIT_RANGE
    model = cls(config).eval()
    with torch.no_grad():
        # Non-trivial norm weights and biases so tests notice if they are ignored.
        for n, p in model.named_parameters():
            if n.endswith("bias") or "norm" in n or ".ln_" in n:
                p.add_(torch.randn_like(p) * 0.1)
    model = model.to(dtype)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(directory, **kwargs)
    if os.path.exists(os.path.join(directory, "generation_config.json")):
        os.remove(os.path.join(directory, "generation_config.json"))
    if config_edit:
        edit_config(directory, config_edit)
    if getattr(config, "tie_word_embeddings", False):
        with safe_open(os.path.join(directory, "model.safetensors"), framework="pt") as st:
            has_head = "lm_head.weight" in st.keys()
        if has_head:
            strip_tensor(directory, "lm_head.weight")

    # Reference: the checkpoint as saved, loaded back, float32 math.
    loaded = cls.from_pretrained(directory, attn_implementation="eager").float().eval()
    # The edited config (old-style rope, etc.) must mean exactly what was built.
    probe = torch.tensor([ids_for(seed + 9, 8, config.vocab_size)])
    # A fresh f32 model with the stored weights (`.to(bf16)` also rounded the rope inv_freq buffer).
    built = cls(config).eval()
    built.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    with torch.no_grad():
        a = built(probe).logits
        b = loaded(probe).logits
    assert torch.allclose(a, b, atol=1e-5), f"{name}: reloaded model differs"

    vocab = config.vocab_size
    input_ids = ids_for(seed + 1, INPUT_LEN, vocab)
    with torch.no_grad():
        logits = loaded(torch.tensor([input_ids])).logits[0]
    prompt = ids_for(seed + 2, GREEDY_PROMPT_LEN, vocab)
    new, margins = greedy(loaded, prompt)
    stream = ids_for(seed + 3, PPL_STREAM_LEN, vocab)
    n_params, names, dtypes = tensor_numels(directory)
    assert n_params == loaded.num_parameters(), (name, n_params, loaded.num_parameters())

    ref = {
        "name": name,
        "notes": notes,
        "model_type": config.model_type,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "storage_dtype": str(dtype).replace("torch.", ""),
        "compute_dtype": "float32",
        "num_parameters": n_params,
        "num_tensors": len(names),
        "tensor_dtypes": dtypes,
        "tensor_names": names,
        "vocab_size": vocab,
        "input_ids": input_ids,
        "logits_shape": list(logits.shape),
        "logits": round_nested(logits.tolist()),
        "greedy_prompt": prompt,
        "greedy_tokens": new,
        "greedy_eos_stopping": False,
        "greedy_top2_margins": margins,
        "perplexity": perplexity(loaded, stream, PPL_CONTEXT),
    }
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    print(f"{name}: {n_params} params, {len(names)} tensors, ppl {ref['perplexity']['perplexity']:.3f}")
    return loaded, ref


def old_rope(cfg):
    """The pre-transformers-5 layout: top-level rope_theta and `rope_scaling`."""
    rp = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rp.pop("rope_theta")
    kind = rp.pop("rope_type")
    cfg["rope_scaling"] = None if kind == "default" else {"type": kind, **rp}


def llama(**kw):
    base = dict(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    base.update(kw)
    return LlamaConfig(**base)


def make_tiny():
    build("llama-gqa-f32", LlamaForCausalLM,
          llama(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
          torch.float32, 100,
          notes="GQA 4 q / 2 kv heads, head_dim 8, untied lm_head, new-style rope_parameters")

    def bf16_edit(cfg):
        old_rope(cfg)
        cfg["eos_token_id"] = [2, 3]
    build("llama-bf16-tied-oldrope", LlamaForCausalLM,
          llama(tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
          torch.bfloat16, 200, config_edit=bf16_edit,
          notes="bf16 storage, tied embeddings (no lm_head.weight in file), top-level rope_theta=500000 "
                "with rope_scaling null, eos_token_id list")

    build("llama3-rope-scaling", LlamaForCausalLM,
          llama(max_position_embeddings=256,
                rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                 "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 16}),
          torch.bfloat16, 300,
          notes="llama3 rope (factor 8, low 1, high 4, original_max_position_embeddings 16 so that "
                "all three frequency bands occur with head_dim 8), new-style rope_parameters, bf16 storage")

    build("llama-linear-rope", LlamaForCausalLM,
          llama(rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}),
          torch.float16, 400, config_edit=old_rope,
          notes="linear rope scaling factor 2, old-style rope_scaling {type: linear} + top-level rope_theta, "
                "f16 storage")

    build("llama-attn-bias", LlamaForCausalLM,
          llama(attention_bias=True, head_dim=16, num_attention_heads=4, num_key_value_heads=1,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
          torch.float32, 500,
          notes="attention_bias=true (q/k/v/o biases), explicit head_dim 16 != hidden/heads = 8, "
                "4 q heads sharing 1 kv head")

    build("mistral-f16", MistralForCausalLM,
          MistralConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                        max_position_embeddings=128, sliding_window=None, tie_word_embeddings=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
          torch.float16, 600, notes="mistral, f16 storage, GQA, sliding_window null")

    build("qwen2-tied", Qwen2ForCausalLM,
          Qwen2Config(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, use_sliding_window=False, rms_norm_eps=1e-6,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
          torch.float32, 700, notes="qwen2: q/k/v biases (no o bias), tied embeddings, GQA 4/2")

    def gpt2_cfg():
        return GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                          bos_token_id=0, eos_token_id=0)
    build("gpt2", GPT2LMHeadModel, gpt2_cfg(), torch.float32, 800,
          notes="gpt2, Conv1D weights stored [in, out], fused c_attn, learned positions, tied head")
    build("gpt2-bf16", GPT2LMHeadModel, gpt2_cfg(), torch.bfloat16, 900, notes="gpt2 with bf16 storage")

    for mq, seed in [(True, 1000), (False, 1100)]:
        build("bigcode-mqa" if mq else "bigcode-mha", GPTBigCodeForCausalLM,
              GPTBigCodeConfig(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                               multi_query=mq, bos_token_id=0, eos_token_id=0),
              torch.float32, seed,
              notes="gpt_bigcode multi_query=%s: c_attn is nn.Linear [out, in], %s" %
                    (str(mq).lower(), "q then one shared k and v head" if mq else "full q, k, v"))

    build("llama-sharded", LlamaForCausalLM,
          llama(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
          torch.float32, 1200, shard="40KB",
          notes="same shape as llama-gqa-f32, saved sharded: model.safetensors.index.json + shards")
    files = [f for f in os.listdir(os.path.join(OUT, "llama-sharded")) if f.endswith(".safetensors")]
    assert len(files) >= 2, files


# ---------------------------------------------------------------- demo model

SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def code_texts(limit_chars):
    """Training text from the training split (code-dev.jsonl is held out for evaluation)."""
    texts, total = [], 0
    with lzma.open(os.path.join(SHARED, "data", "code-train.jsonl.xz"), "rt") as f:
        for line in f:
            t = json.loads(line)["text"]
            if len(t) > 20000:
                continue
            texts.append(t)
            total += len(t)
            if total >= limit_chars:
                break
    return texts


def make_tokenizer(texts, directory):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    assert tok.token_to_id("<|endoftext|>") == 0
    tok.save(os.path.join(directory, "tokenizer.json"))
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 256, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
        f.write("\n")
    return tok


def make_demo(train_steps):
    directory = os.path.join(OUT, "demo")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    texts = code_texts(3_000_000)
    tok = make_tokenizer(texts, directory)
    eot = 0
    stream = []
    for t in texts:
        stream.extend(tok.encode(t).ids)
        stream.append(eot)
    data = torch.tensor(stream)

    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=0, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    torch.manual_seed(1300)
    model = LlamaForCausalLM(config)
    g = torch.Generator().manual_seed(1301)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    seq, batch = 128, 16
    model.train()
    for step in range(train_steps):
        lr = 3e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * (1 - step / max(train_steps, 1)))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=g)
        x = torch.stack([data[s:s + seq] for s in starts])
        loss = model(x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == train_steps - 1:
            print(f"demo step {step}: loss {loss.item():.3f}", flush=True)
    model.eval()
    model = model.to(torch.bfloat16)
    model.save_pretrained(directory)
    with open(os.path.join(directory, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": 0, "do_sample": False, "max_new_tokens": 64}, f, indent=2)
        f.write("\n")
    demo_reference(directory, train_steps)


def demo_reference(directory, train_steps):
    """reference.json for the saved demo model (`--only demo-reference` redoes just this)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    loaded = LlamaForCausalLM.from_pretrained(directory, attn_implementation="eager").float().eval()
    prompt_text = "class Config:\n    def __init__(self"
    prompt = tok.encode(prompt_text).ids
    gen = GenerationConfig(do_sample=False, max_new_tokens=32, eos_token_id=None, pad_token_id=0)
    with torch.no_grad():
        out = loaded.generate(torch.tensor([prompt]), generation_config=gen,
                              attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    new = out[0, len(prompt):].tolist()
    input_ids = prompt[:INPUT_LEN]
    with torch.no_grad():
        logits = loaded(torch.tensor([input_ids])).logits[0]
    dev = [json.loads(l)["text"] for l in open(os.path.join(SHARED, "data", "code-dev.jsonl"))][:3]
    ppl_stream = tok.encode(dev[0]).ids[:PPL_STREAM_LEN]
    n_params, names, dtypes = tensor_numels(directory)
    tok_check = {s: tok.encode(s).ids for s in
                 ["import os\n", "def f(x):\n    return x + 1\n", "héllo wörld ✓ 🙂", "<|endoftext|>x"]}
    ref = {
        "name": "demo",
        "notes": f"README quick-start model: llama, trained {train_steps} steps on code-train text; "
                 "byte-level BPE tokenizer (512) with Qwen2-style Split + ByteLevel pre-tokenizer",
        "model_type": "llama",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "storage_dtype": "bfloat16",
        "compute_dtype": "float32",
        "num_parameters": n_params,
        "num_tensors": len(names),
        "tensor_dtypes": dtypes,
        "tensor_names": names,
        "vocab_size": 512,
        "input_ids": input_ids,
        "logits_shape": list(logits.shape),
        "logits": round_nested(logits.tolist()),
        "greedy_prompt_text": prompt_text,
        "greedy_prompt": prompt,
        "greedy_tokens": new,
        "greedy_text": tok.decode(new),
        "greedy_eos_stopping": False,
        "tokenizer_checks": tok_check,
        "perplexity": perplexity(loaded, ppl_stream, PPL_CONTEXT),
    }
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    print(f"demo: {n_params} params; greedy: {prompt_text + ref['greedy_text']!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo-steps", type=int, default=600, help="training steps for the demo model")
    ap.add_argument("--only", choices=["tiny", "demo", "demo-reference"], default=None)
    args = ap.parse_args()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    if args.only in (None, "tiny"):
        make_tiny()
    if args.only in (None, "demo"):
        make_demo(args.demo_steps)
    if args.only == "demo-reference":
        demo_reference(os.path.join(OUT, "demo"), args.demo_steps)


if __name__ == "__main__":
    sys.exit(main())
