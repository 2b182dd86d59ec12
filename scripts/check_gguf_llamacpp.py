#!/usr/bin/env python3
"""Does llama.cpp run Verdant's GGUF exports the way Verdant runs the same weights?

    ~/.cache/verdant/bench-venv/bin/python scripts/check_gguf_llamacpp.py [--verdant PATH]
        [--models a,b] [--types f32,f16,...] [--tokens N] [--markdown]

Needs the bench venv (llama-cpp-python, gguf, numpy; see scripts/bench_compare.py) and a
Verdant binary (default .build/release/verdant, built with `swift build -c release` if absent).
Scratch files go to ~/.cache/verdant/gguf-check, never into the repo.

For every model and GGUF type:
  1. "Twin" checkpoint: a Verdant checkpoint holding exactly the weights the GGUF file will
     hold: 2-D weights (but position embeddings) cast to f16/bf16, or quantized to
     q8_0 / q4_0 / int4_g32 (= Q4_1) with gguf-py's reference quantizer and stored the Verdant
     way (U8 rows + config.json `quantization` manifest); rows that are not whole blocks stay
     f16, norms and biases f32 (the exporter's rules).
  2. Two exports: from the original float checkpoint (`--type T`: cast or quantize) and from
     the twin (for block types: the bit-exact copy path). Their tensor data must be identical.
  3. Greedy decoding of N tokens from the same prompt ids: Verdant on the twin
     (`verdant generate --prompt-ids ... --temperature 0 --json`) against llama.cpp on the
     GGUF (llama_cpp.Llama.eval, argmax of the last logits, 2 threads). Where they part, the
     llama.cpp logit gap between its choice and Verdant's token is printed: a gap near zero is
     a numerical near-tie (llama.cpp rounds activations to f16 / bf16 / 8-bit blocks in its
     matmuls, Verdant keeps f32), not a layout bug.
  4. Models with tokenizer.json: llama.cpp's tokenization of the prompt text must equal
     Verdant's (tokenizer metadata check); the GGUF carries the vocabulary. Fixtures without
     one are exported with --no-vocab and driven from token ids.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "Tests" / "VerdantModelsTests" / "Fixtures" / "models"
SHARED_MODELS = REPO.parent / "shared" / "models"
WORK = Path(os.environ.get("VERDANT_GGUF_CHECK_DIR", Path.home() / ".cache" / "verdant" / "gguf-check"))

FLOAT_TYPES = ["f32", "f16", "bf16"]
BLOCK_TYPES = {"q8_0": "q8_0", "q4_0": "q4_0", "q4_1": "int4_g32"}  # GGUF type -> Verdant format
CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")

# (name, directory, prompt text or None for token ids from reference.json)
MODELS = [
    ("pycoder-llama-19m", SHARED_MODELS / "pycoder-llama-19m", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("demo", FIXTURES / "demo", "def main("),
    ("llama-gqa-f32", FIXTURES / "llama-gqa-f32", None),
    ("qwen2-tied", FIXTURES / "qwen2-tied", None),
    ("gpt2", FIXTURES / "gpt2", None),
    ("bigcode-mqa", FIXTURES / "bigcode-mqa", None),
    ("bigcode-mha", FIXTURES / "bigcode-mha", None),
    ("llama-attn-bias", FIXTURES / "llama-attn-bias", None),
    ("llama-linear-rope", FIXTURES / "llama-linear-rope", None),
    ("llama3-rope-scaling", FIXTURES / "llama3-rope-scaling", None),
    ("mistral-f16", FIXTURES / "mistral-f16", None),
    ("gpt2-bf16", FIXTURES / "gpt2-bf16", None),
]


def log(msg: str) -> None:
    print(f"[check_gguf {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr}")
    return r


# ----------------------------------------------------------------------------- twin checkpoints

def bf16_round(x: np.ndarray) -> np.ndarray:
    """f32 -> bf16 bits, round to nearest even (as torch and Verdant do)."""
    bits = x.astype(np.float32).view(np.uint32)
    rounding = np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    return ((bits + rounding) >> np.uint32(16)).astype(np.uint16)


def make_twin(src: Path, gguf_type: str, dst: Path) -> None:
    """A Verdant checkpoint with the weights a `--type gguf_type` export holds."""
    import gguf
    from safetensors.numpy import load_file, save_file  # type: ignore

    cfg = json.loads((src / "config.json").read_text())
    tensors: dict[str, np.ndarray] = {}
    files = sorted(src.glob("*.safetensors"))
    for f in files:
        tensors.update(load_file_any(f))
    out: dict[str, np.ndarray] = {}
    manifest: dict[str, dict] = {}
    for name, x in tensors.items():
        x32 = x.astype(np.float32)
        is_pos = name.endswith("wpe.weight")
        if x.ndim != 2 or is_pos:
            out[name] = x32
            continue
        if gguf_type in FLOAT_TYPES:
            out[name] = cast_float(x32, gguf_type)
            continue
        conv1d = cfg["model_type"] == "gpt2" and name.endswith(CONV1D_SUFFIXES)
        logical = x32.T.copy() if conv1d else x32  # [out, in]
        if logical.shape[1] % 32 != 0:
            out[name] = cast_float(x32, "f16")  # the exporter's fallback
            continue
        qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0,
                 "q4_1": gguf.GGMLQuantizationType.Q4_1}[gguf_type]
        q = gguf.quants.quantize(np.ascontiguousarray(logical), qtype)
        out[name] = q.reshape(logical.shape[0], -1)
        entry = {"format": BLOCK_TYPES[gguf_type], "shape": list(logical.shape)}
        if conv1d:
            entry["stored_transposed"] = True
        manifest[name] = entry
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    save_file(out, str(dst / "model.safetensors"))
    if manifest:
        cfg["quantization"] = {"tensors": manifest, "method": "rtn (gguf-py reference) for the GGUF check"}
    (dst / "config.json").write_text(json.dumps(cfg, indent=1))
    for extra in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (src / extra).exists():
            shutil.copy(src / extra, dst / extra)


def load_file_any(path: Path) -> dict[str, np.ndarray]:
    """safetensors -> numpy, with BF16 widened to f32 (numpy has no bfloat16)."""
    import struct
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = raw[base + a:base + b]
        dt = info["dtype"]
        if dt == "BF16":
            arr = (np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype={"F32": np.float32, "F16": np.float16}[dt])
        out[name] = arr.reshape(info["shape"])
    return out


def cast_float(x: np.ndarray, t: str) -> np.ndarray:
    if t == "f32":
        return x.astype(np.float32)
    if t == "f16":
        return x.astype(np.float16)
    # safetensors.numpy cannot write bf16; store the bf16-rounded values as f32 (same numbers).
    return (bf16_round(x).astype(np.uint32) << 16).view(np.float32)


# ----------------------------------------------------------------------------- engines

def verdant_greedy(verdant: Path, model: Path, ids: list[int], n: int) -> list[int]:
    r = run([verdant, "generate", model, "--prompt-ids", ",".join(map(str, ids)), "--max-tokens", n,
             "--temperature", 0, "--threads", 2, "--json"])
    return json.loads(r.stdout)["token_ids"]


def verdant_tokenize(verdant: Path, model: Path, text: str) -> list[int]:
    r = run([verdant, "tokenize", model, "--text", text, "--json"])
    return json.loads(r.stdout.strip().splitlines()[0])


class LlamaCpp:
    def __init__(self, path: Path, n_ctx: int):
        from llama_cpp import Llama
        self.llm = Llama(model_path=str(path), n_ctx=max(256, n_ctx), n_threads=2, n_threads_batch=2,
                         verbose=False)

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)

    def forced(self, ids: list[int], ref: list[int]) -> tuple[int, float]:
        """Teacher forcing along Verdant's tokens: how many of them are llama.cpp's argmax
        too, and the largest logit gap (llama.cpp's top logit minus Verdant's token's) where not."""
        import llama_cpp
        llm = self.llm
        llm.reset()
        llm.eval(ids)
        nv = llm.n_vocab()
        agree, worst = 0, 0.0
        for i, t in enumerate(ref):
            last = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(nv,))
            top = int(np.argmax(last))
            agree += top == t
            worst = max(worst, float(last[top] - last[t]))
            if i + 1 < len(ref):
                llm.eval([t])
        return agree, worst

    def greedy(self, ids: list[int], n: int, stops: set[int]) -> tuple[list[int], list[np.ndarray]]:
        import llama_cpp
        llm = self.llm
        llm.reset()
        llm.eval(ids)
        nv = llm.n_vocab()
        out, logits = [], []
        for _ in range(n):
            last = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(nv,)).copy()
            t = int(np.argmax(last))
            out.append(t)
            logits.append(last)
            if t in stops:
                break
            llm.eval([t])
        return out, logits


def gguf_tensor_bytes(path: Path) -> dict[str, bytes]:
    from gguf import GGUFReader
    r = GGUFReader(str(path))
    return {t.name: bytes(np.asarray(t.data).tobytes()) for t in r.tensors}


# ----------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verdant", type=Path, default=REPO / ".build" / "release" / "verdant")
    ap.add_argument("--models", default="")
    ap.add_argument("--types", default="f32,f16,bf16,q8_0,q4_0,q4_1")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--markdown", action="store_true", help="print a markdown table on stdout")
    ap.add_argument("--gap-tolerance", type=float, default=0.1,
                    help="a greedy difference counts as a numerical near-tie (not a failure) when, along "
                         "Verdant's tokens, llama.cpp never prefers another token by more than this logit gap")
    args = ap.parse_args()

    if not args.verdant.exists():
        log("building verdant (release)")
        run(["swift", "build", "-c", "release", "--product", "verdant"], cwd=REPO)
    wanted = set(filter(None, args.models.split(",")))
    types = [t for t in args.types.split(",") if t]
    WORK.mkdir(parents=True, exist_ok=True)

    rows = []
    failures = near_ties = 0
    for name, src, text in MODELS:
        if wanted and name not in wanted:
            continue
        if not (src / "config.json").exists():
            log(f"skip {name}: {src} not found")
            continue
        cfg = json.loads((src / "config.json").read_text())
        has_vocab = (src / "tokenizer.json").exists()
        n_ctx = cfg.get("max_position_embeddings") or cfg.get("n_positions") or 256
        eos = cfg.get("eos_token_id")
        stops = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        ref_path = src / "reference.json"
        if text is not None:
            ids = verdant_tokenize(args.verdant, src, text)
        else:
            ids = json.loads(ref_path.read_text())["greedy_prompt"]
        n = min(args.tokens, n_ctx - len(ids))
        for t in types:
            tag = f"{name}/{t}"
            twin = WORK / f"{name}-{t}-twin"
            make_twin(src, t, twin)
            vocab_flag = [] if has_vocab else ["--no-vocab"]
            from_float = WORK / f"{name}-{t}-from-float.gguf"
            from_twin = WORK / f"{name}-{t}-from-twin.gguf"
            r1 = run([args.verdant, "export-gguf", src, "--out", from_float, "--type", t] + vocab_flag)
            r2 = run([args.verdant, "export-gguf", twin, "--out", from_twin, "--type", t] + vocab_flag)
            copied = "copied bit-exactly" in r2.stderr
            a, b = gguf_tensor_bytes(from_float), gguf_tensor_bytes(from_twin)
            same_bytes = a.keys() == b.keys() and all(a[k] == b[k] for k in a)

            llm = LlamaCpp(from_twin, n_ctx)
            tok_ok = None
            if text is not None and has_vocab:
                tok_ok = llm.tokenize(text) == ids
            ref = verdant_greedy(args.verdant, twin, ids, n)
            got, logits = llm.greedy(ids, len(ref), stops)
            match = got == ref
            first = next((i for i in range(min(len(got), len(ref))) if got[i] != ref[i]), None)
            gap = None
            if first is not None:
                l = logits[first]
                gap = float(l[got[first]] - l[ref[first]])
            agree, worst = llm.forced(ids, ref)
            near_tie = not match and worst <= args.gap_tolerance
            ok = (match or near_tie) and same_bytes and tok_ok is not False
            failures += 0 if ok else 1
            near_ties += 1 if ok and near_tie else 0
            rows.append({"model": name, "type": t, "greedy_match": match, "tokens": len(ref),
                         "first_mismatch": first, "llamacpp_gap_at_mismatch": gap,
                         "forced_top1_agree": agree, "forced_max_gap": worst,
                         "export_bytes_equal": same_bytes, "twin_copied": copied,
                         "tokenization_match": tok_ok, "verdant": ref, "llama_cpp": got})
            log(f"{tag}: greedy {'match' if match else f'differs at {first} (llama.cpp gap {gap:.4f})'} "
                f"over {len(ref)} tokens; teacher-forced top-1 {agree}/{len(ref)} (max gap {worst:.4f}); float-export == twin-export bytes: {same_bytes}"
                + (f"; tokenization match: {tok_ok}" if tok_ok is not None else ""))
            del llm

    (WORK / "results.json").write_text(json.dumps(rows, indent=1))
    if args.markdown:
        print("| model | type | greedy tokens equal | tokens | first difference (llama.cpp logit gap) | teacher-forced top-1 (max gap) | float export = twin export | tokenization |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            diff = "" if r["first_mismatch"] is None else f"{r['first_mismatch']} ({r['llamacpp_gap_at_mismatch']:.3f})"
            tok = "" if r["tokenization_match"] is None else ("same" if r["tokenization_match"] else "DIFFERS")
            forced = f"{r['forced_top1_agree']}/{r['tokens']} ({r['forced_max_gap']:.3f})"
            print(f"| {r['model']} | {r['type']} | {'yes' if r['greedy_match'] else 'no'} | {r['tokens']} | {diff} | {forced} | "
                  f"{'yes' if r['export_bytes_equal'] else 'NO'} | {tok} |")
    log(f"{len(rows) - failures - near_ties}/{len(rows)} model/type pairs give identical greedy tokens, "
        f"{near_ties} differ only at near-ties (gap <= {args.gap_tolerance}), {failures} fail; "
        f"details in {WORK / 'results.json'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
