#!/usr/bin/env python3
"""Gradient references for VerdantTrainingTests, computed with PyTorch / transformers.

Run from the repository root:

    /work/venv/bin/python scripts/make_training_fixtures.py

For each architecture a tiny random-initialised model (fixed seed, no downloads) is saved in
f32 to `Tests/VerdantTrainingTests/Fixtures/<name>/` (config.json + model.safetensors) with

- `reference.json`: `input_ids` [B, T+1] (row b predicts ids[b][1:] from ids[b][:-1]),
  `ignored` (flat positions of targets set to -100), `loss` (mean cross-entropy over the
  targets that are not ignored), notes;
- `gradients.safetensors`: d loss / d parameter for every parameter, f32, under its checkpoint
  name and in checkpoint layout (GPT-2 Conv1D [in, out], bigcode's interleaved c_attn, tied
  embeddings once).

Everything is float32 eager attention so the reference is the textbook computation.
"""

import json
import os
import shutil

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from transformers import (
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
OUT = os.path.join(ROOT, "Tests", "VerdantTrainingTests", "Fixtures")

BATCH, CONTEXT, VOCAB = 2, 8, 64
# Ignored targets (flat index into [B, T]): the loss must skip them.
IGNORED = [3, 12]


def build(name, cls, config, seed, notes):
    torch.manual_seed(seed)
    config._attn_implementation = "eager"
    model = cls(config).float()
    with torch.no_grad():
        # Non-trivial norm weights and biases so that a test notices if they are ignored.
        for n, p in model.named_parameters():
            if n.endswith("bias") or "norm" in n or ".ln_" in n:
                p.add_(torch.randn_like(p) * 0.1)
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    model.save_pretrained(directory)
    for extra in ["generation_config.json"]:
        path = os.path.join(directory, extra)
        if os.path.exists(path):
            os.remove(path)

    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, VOCAB, (BATCH, CONTEXT + 1), generator=g)
    inputs, targets = ids[:, :-1], ids[:, 1:].clone()
    flat = targets.view(-1)
    for i in IGNORED:
        flat[i] = -100
    model.train()  # dropout probabilities are 0 in these configs
    logits = model(inputs).logits
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    grads = {n: p.grad.detach().contiguous().clone() for n, p in model.named_parameters()}
    save_file(grads, os.path.join(directory, "gradients.safetensors"))
    ref = {
        "name": name,
        "notes": notes,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "input_ids": ids.tolist(),
        "ignored": IGNORED,
        "loss": loss.item(),
        "parameters": sorted(grads.keys()),
    }
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"{name}: loss {loss.item():.6f}, {len(grads)} parameter tensors")


def main():
    common = dict(vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                  initializer_range=0.2, bos_token_id=1, eos_token_id=2)
    build("llama", LlamaForCausalLM,
          LlamaConfig(**common, tie_word_embeddings=False,
                      rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0,
                                       "low_freq_factor": 1.0, "high_freq_factor": 2.0,
                                       "original_max_position_embeddings": 8}),
          100, "llama: GQA 4 q / 2 kv heads, untied lm_head, llama3 rope scaling, SwiGLU")
    build("qwen2", Qwen2ForCausalLM,
          Qwen2Config(**common, tie_word_embeddings=True, use_sliding_window=False, rms_norm_eps=1e-6,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
          200, "qwen2: q/k/v biases, tied embeddings")
    build("mistral-window", MistralForCausalLM,
          MistralConfig(**{**common, "num_key_value_heads": 1}, head_dim=4, sliding_window=3,
                        tie_word_embeddings=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
          300, "mistral: sliding window 3 over 8 tokens, multi-query (1 kv head)")
    gpt = dict(vocab_size=VOCAB, n_positions=32, n_embd=16, n_layer=2, n_head=4, initializer_range=0.2,
               bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    build("gpt2", GPT2LMHeadModel, GPT2Config(**gpt, activation_function="gelu_new"),
          400, "gpt2: Conv1D [in, out], fused c_attn, learned positions, tied head, tanh GELU")
    build("bigcode-mqa", GPTBigCodeForCausalLM,
          GPTBigCodeConfig(**gpt, multi_query=True, activation_function="gelu"),
          500, "gpt_bigcode multi_query: q then one shared k and v head; exact (erf) GELU")
    build("bigcode-mha", GPTBigCodeForCausalLM,
          GPTBigCodeConfig(**gpt, multi_query=False, activation_function="relu"),
          600, "gpt_bigcode without multi-query: c_attn rows interleaved per head; ReLU")


def build_lora(base, modules, rank, alpha, seed, notes):
    """LoRA as PEFT computes it (peft is not installed here, so by hand): every targeted
    linear gets y += (alpha/r) * (x @ A.T) @ B.T with A [r, in], B [out, r]; the base is frozen.
    B is random (PEFT starts it at zero) so that d loss / d A is not trivially zero.
    Written to Fixtures/lora-<base>/: adapter_config.json + adapter_model.safetensors in PEFT's
    format, lora_gradients.safetensors (same names) and lora_reference.json (loss)."""
    from transformers import AutoModelForCausalLM
    base_dir = os.path.join(OUT, base)
    with open(os.path.join(base_dir, "reference.json")) as f:
        base_ref = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(base_dir, attn_implementation="eager").float()
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    scale = alpha / rank
    adapters = {}
    for name, mod in model.named_modules():
        if not any(name.endswith("." + m) for m in modules):
            continue
        w = mod.weight  # Linear [out, in]; GPT-2 Conv1D [in, out]
        fan_in, fan_out = (w.shape[0], w.shape[1]) if type(mod).__name__ == "Conv1D" else (w.shape[1], w.shape[0])
        bound = 1 / fan_in ** 0.5  # kaiming_uniform_(a=sqrt(5)) on [r, in]
        a = ((torch.rand(rank, fan_in, generator=g) * 2 - 1) * bound).requires_grad_(True)
        b = (torch.randn(fan_out, rank, generator=g) * 0.1).requires_grad_(True)
        adapters[name] = (a, b)
        mod.register_forward_hook(lambda m, inp, out, a=a, b=b: out + scale * (inp[0] @ a.T) @ b.T)
    ids = torch.tensor(base_ref["input_ids"])
    inputs, targets = ids[:, :-1], ids[:, 1:].clone()
    flat = targets.view(-1)
    for i in base_ref["ignored"]:
        flat[i] = -100
    logits = model(inputs).logits
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    directory = os.path.join(OUT, "lora-" + base)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    weights, grads = {}, {}
    for name, (a, b) in adapters.items():
        for part, t in (("lora_A", a), ("lora_B", b)):
            key = f"base_model.model.{name}.{part}.weight"
            weights[key] = t.detach().contiguous().clone()
            grads[key] = t.grad.detach().contiguous().clone()
    save_file(weights, os.path.join(directory, "adapter_model.safetensors"))
    save_file(grads, os.path.join(directory, "lora_gradients.safetensors"))
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": alpha,
                   "target_modules": modules, "base_model_name_or_path": base, "bias": "none",
                   "fan_in_fan_out": base == "gpt2", "lora_dropout": 0.0}, f, indent=1)
    with open(os.path.join(directory, "lora_reference.json"), "w") as f:
        json.dump({"base": base, "notes": notes, "loss": loss.item(), "input_ids": base_ref["input_ids"],
                   "ignored": base_ref["ignored"], "parameters": sorted(grads)}, f, indent=1)
    print(f"lora-{base}: loss {loss.item():.6f}, {len(adapters)} adapters")


def main_lora():
    build_lora("llama", ["q_proj", "v_proj"], 2, 4.0, 700, "LoRA r 2, alpha 4 on q_proj and v_proj")
    build_lora("gpt2", ["attn.c_attn", "mlp.c_proj"], 2, 3.0, 800, "LoRA r 2, alpha 3 on fused c_attn (Conv1D) and mlp.c_proj")
    build_lora("bigcode-mha", ["attn.c_attn"], 3, 6.0, 900, "LoRA r 3, alpha 6 on c_attn with per-head interleaved rows")


if __name__ == "__main__":
    import sys
    if "--lora-only" in sys.argv:
        main_lora()
    else:
        main()
        main_lora()
