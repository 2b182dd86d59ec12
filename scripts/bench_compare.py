#!/usr/bin/env python3
"""Side-by-side CPU benchmark: Verdant vs llama.cpp vs PyTorch eager.

    python3 scripts/bench_compare.py [--runs 3] [--threads 2] [--json out.json]

What it does (all caches live OUTSIDE the repo):
  1. Creates/reuses a venv ($VERDANT_BENCH_VENV, default ~/.cache/verdant/bench-venv)
     with torch==2.13.0+cpu, transformers, safetensors, numpy, tokenizers, gguf and
     llama-cpp-python built from source with -DGGML_NATIVE=ON (the sdist is kept in
     ~/.cache/verdant/sdist; its vendor/llama.cpp provides convert_hf_to_gguf.py and
     the matching gguf-py).  Then re-executes itself inside that venv.
  2. Models: ../shared/models/pycoder-llama-19m (real, bf16) and a random-init model
     of Qwen2.5-Coder-0.5B's shape (scripts/make_bench_models.py).
  3. Converts each to GGUF at the same precision (bf16) with convert_hf_to_gguf.py.
  4. Measures prefill of a P-token prompt and G greedy decode steps, T threads,
     warm-up first, median of R runs, for each engine:
       - llama.cpp via the llama_cpp Python bindings (Llama.eval of the prompt, then
         single-token evals with argmax); wall-clock timing around the C calls.
       - PyTorch eager (transformers), bf16 (checkpoint dtype) and optionally f32:
         prefill = forward(prompt, use_cache, logits_to_keep=1), decode = single-token
         steps with past_key_values.
       - Verdant: `verdant bench DIR --prompt-tokens P --gen-tokens G --threads T --runs R --json`.
  5. Prints a markdown table: tok/s, ratio vs llama.cpp, decode as a fraction of the
     memory-bandwidth limit and prefill as a fraction of peak FLOP rate.

Machine figures come from `verdant kernel-bench --json` when it works; otherwise the
script measures them itself with torch (2-thread reduction of a 1 GiB tensor for
bandwidth, 2-thread f32 GEMM for an *achievable* FLOP rate) and says so.

The numbers are noisy on a shared 2-core machine: compare medians and repeat.
Nothing here is used by the test suite.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
HOME = Path(os.environ.get("HOME", "/root"))
CACHE = Path(os.environ.get("VERDANT_BENCH_CACHE", HOME / ".cache" / "verdant"))
VENV = Path(os.environ.get("VERDANT_BENCH_VENV", CACHE / "bench-venv"))
SDIST_DIR = CACHE / "sdist"
GGUF_DIR = CACHE / "gguf"
QWEN_DIR = Path(os.environ.get("VERDANT_BENCH_QWEN_DIR", CACHE / "models" / "qwen2.5-coder-0.5b-shape"))
PYCODER_DIR = SHARED / "models" / "pycoder-llama-19m"

TORCH_REQ = "torch==2.13.0+cpu"
PY_REQS = ["transformers", "safetensors", "numpy", "tokenizers", "sentencepiece", "protobuf", "pyyaml", "tqdm"]
LLAMA_CMAKE_ARGS = "-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF"


def log(msg: str) -> None:
    print(f"[bench_compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a setup command; its output goes to stderr so stdout stays the report."""
    log("$ " + " ".join(shlex.quote(str(c)) for c in cmd))
    kw.setdefault("stdout", sys.stderr)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


# --------------------------------------------------------------------------- setup

def venv_python() -> Path:
    return VENV / "bin" / "python"


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def venv_has(module: str) -> bool:
    r = subprocess.run([str(venv_python()), "-c", f"import {module}"], capture_output=True)
    return r.returncode == 0


def llama_sdist() -> Path:
    """Download (once) and unpack the llama-cpp-python sdist; return the unpacked dir."""
    SDIST_DIR.mkdir(parents=True, exist_ok=True)
    tars = sorted(SDIST_DIR.glob("llama_cpp_python-*.tar.gz"))
    if not tars:
        # --no-binary only for this package: with ':all:' pip would also build the
        # build backend's own dependencies (cmake, ...) from source, which takes ages.
        run([venv_python(), "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-python",
             "-d", SDIST_DIR, os.environ.get("VERDANT_BENCH_LLAMA_CPP_REQ", "llama-cpp-python")])
        tars = sorted(SDIST_DIR.glob("llama_cpp_python-*.tar.gz"))
    tar = tars[-1]
    out = SDIST_DIR / tar.name[: -len(".tar.gz")]
    if not (out / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py").exists():
        with tarfile.open(tar) as tf:
            tf.extractall(SDIST_DIR)
    return out


def ensure_venv(skip_llama: bool) -> None:
    if not venv_python().exists():
        run([sys.executable, "-m", "venv", VENV])
        run([venv_python(), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    if not venv_has("torch"):
        # Plain PyPI resolves the +cpu local version here; the PyTorch index is an extra.
        extra = os.environ.get("VERDANT_BENCH_TORCH_INDEX")
        cmd = [venv_python(), "-m", "pip", "install", TORCH_REQ]
        if extra:
            cmd += ["--extra-index-url", extra]
        run(cmd)
    missing = [r for r, m in zip(PY_REQS, ["transformers", "safetensors", "numpy", "tokenizers", "sentencepiece",
                                            "google.protobuf", "yaml", "tqdm"]) if not venv_has(m)]
    if missing:
        run([venv_python(), "-m", "pip", "install", *missing])
    sdist = llama_sdist()
    if not venv_has("gguf"):
        run([venv_python(), "-m", "pip", "install", sdist / "vendor" / "llama.cpp" / "gguf-py"])
    if not skip_llama and not venv_has("llama_cpp"):
        env = dict(os.environ)
        env["CMAKE_ARGS"] = env.get("CMAKE_ARGS", LLAMA_CMAKE_ARGS)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        log(f"building llama-cpp-python from source with CMAKE_ARGS={env['CMAKE_ARGS']!r} "
            "(tens of minutes on 2 cores)")
        t0 = time.time()
        run([venv_python(), "-m", "pip", "install", "-v", SDIST_DIR / (sdist.name + ".tar.gz")], env=env,
            stdout=open(CACHE / "llama-cpp-python-build.log", "w"), stderr=subprocess.STDOUT)
        log(f"llama-cpp-python built in {time.time() - t0:.0f}s (log: {CACHE / 'llama-cpp-python-build.log'})")


# --------------------------------------------------------------------------- model facts

def safetensors_tensors(model_dir: Path) -> dict[str, tuple[str, list[int], int]]:
    """name -> (dtype, shape, nbytes), read from the safetensors headers only."""
    out = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            out[name] = (info["dtype"], info["shape"], b - a)
    return out


def model_facts(model_dir: Path) -> dict:
    """Bytes of weights read per decoded token and matmul parameter counts.

    Per token every tensor is read except the embedding table, of which only one
    row is gathered -- unless embeddings are tied, then the table is read in full
    as the lm_head.  Matmul params: every 2-D weight except the embedding lookup
    (for tied models the embedding counts once, as the lm_head)."""
    cfg = json.loads((model_dir / "config.json").read_text())
    tensors = safetensors_tensors(model_dir)
    emb = [n for n in tensors if n.endswith("embed_tokens.weight") or n.endswith("wte.weight")]
    head = [n for n in tensors if n.endswith("lm_head.weight")]
    tied = bool(cfg.get("tie_word_embeddings", not head)) and not head
    total = sum(t[2] for t in tensors.values())
    emb_bytes = sum(tensors[n][2] for n in emb)
    bytes_per_token = total if tied else total - emb_bytes + (emb_bytes // max(1, cfg.get("vocab_size", 1)))
    mats = {n: t for n, t in tensors.items() if len(t[1]) == 2}
    head_params = 0
    for n in (head or (emb if tied else [])):
        head_params += mats[n][1][0] * mats[n][1][1]
    body_params = sum(s[0] * s[1] for n, (_, s, _) in mats.items() if n not in emb and n not in head)
    return {
        "dir": str(model_dir),
        "model_type": cfg.get("model_type"),
        "params": sum(_prod(t[1]) for t in tensors.values()),
        "weight_bytes": total,
        "bytes_per_token": bytes_per_token,
        "body_matmul_params": body_params,
        "head_matmul_params": head_params,
        "tied": tied,
        "vocab_size": cfg.get("vocab_size"),
        "max_positions": cfg.get("max_position_embeddings"),
    }


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def prefill_flops(facts: dict, tokens: int) -> float:
    """2 x matmul params x tokens (logits for the last prompt token only); attention excluded."""
    return 2.0 * (facts["body_matmul_params"] * tokens + facts["head_matmul_params"])


# --------------------------------------------------------------------------- machine

def cpu_info() -> dict:
    name, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name in ("unknown", "", platform.processor()):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    interesting = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                   "avx_vnni", "amx_tile", "amx_bf16", "amx_int8"]
    return {"model": name, "cores": os.cpu_count(), "flags": [f for f in interesting if f in flags]}


def verdant_json(verdant: Path, args: list[str], timeout: float) -> dict:
    """Run `verdant ARGS` and parse the last JSON object it prints; raises RuntimeError."""
    if not verdant.exists():
        raise RuntimeError(f"{verdant} does not exist")
    r = subprocess.run([str(verdant), *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}")
    text = r.stdout.strip()
    start = text.rfind("\n{")
    start = 0 if start < 0 else start + 1
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError:
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"unparsable JSON from verdant: {text[:300]!r}") from e


def _find_key(d: dict, *cands: str):
    for k in cands:
        if k in d and isinstance(d[k], (int, float)):
            return float(d[k])
    for k, v in d.items():  # defensive: nested or renamed keys
        if isinstance(v, dict):
            r = _find_key(v, *cands)
            if r is not None:
                return r
    for k, v in d.items():
        if isinstance(v, (int, float)) and any(c.split("_")[0] in k for c in cands):
            return float(v)
    return None


def machine_figures(verdant: Path, threads: int) -> dict:
    fig = {"bandwidth_gbps": None, "peak_gflops": None, "source": ""}
    try:
        kb = verdant_json(verdant, ["kernel-bench", "--json", "--threads", str(threads)], timeout=600)
    except Exception as e:  # noqa: BLE001 - report and fall back
        try:
            kb = verdant_json(verdant, ["kernel-bench", "--json"], timeout=600)
        except Exception as e2:  # noqa: BLE001
            kb = None
            fig["source"] = f"verdant kernel-bench unavailable ({str(e2)[:160]}); "
    if kb:
        fig["bandwidth_gbps"] = _find_key(kb, "bandwidth_gbps", "bandwidth_gb_s", "bandwidth")
        fig["peak_gflops"] = _find_key(kb, "peak_gflops", "gflops")
        fig["source"] = "verdant kernel-bench; "
        fig["kernel_bench"] = kb
    if fig["bandwidth_gbps"] is None:
        fig["bandwidth_gbps"] = measure_bandwidth(threads)
        fig["source"] += f"bandwidth measured here (torch sum of 1 GiB f32, {threads} threads, best of 5); "
    if fig["peak_gflops"] is None:
        fig["peak_gflops"] = measure_gflops(threads)
        fig["source"] += f"FLOP rate = achieved torch f32 GEMM 2048^3, {threads} threads, best of 5 (not theoretical peak)"
    return fig


def measure_bandwidth(threads: int) -> float:
    try:
        import torch
        torch.set_num_threads(threads)
        x = torch.ones(256 * 1024 * 1024, dtype=torch.float32)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            x.sum().item()
            best = min(best, time.perf_counter() - t0)
        return x.numel() * 4 / best / 1e9
    except ImportError:
        import numpy as np
        x = np.ones(256 * 1024 * 1024, dtype=np.float32)
        best = min(_timeit(lambda: x.sum()) for _ in range(5))
        return x.nbytes / best / 1e9


def measure_gflops(threads: int) -> float:
    import torch
    torch.set_num_threads(threads)
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timeit(lambda: a @ b) for _ in range(5))
    return 2 * n ** 3 / best / 1e9


def _timeit(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- prompt

def prompt_ids(n: int, vocab_limit: int) -> list[int]:
    """First n tokens of ../shared/data/code-dev.jsonl under pycoder's tokenizer
    (ids < 16384, valid for both models); deterministic random ids as fallback."""
    try:
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(PYCODER_DIR / "tokenizer.json"))
        ids: list[int] = []
        with open(SHARED / "data" / "code-dev.jsonl") as fh:
            for line in fh:
                rec = json.loads(line)
                text = rec.get("text") or rec.get("content") or next(
                    (v for v in rec.values() if isinstance(v, str)), "")
                ids += tok.encode(text).ids
                if len(ids) >= n:
                    break
        if len(ids) >= n and max(ids[:n]) < vocab_limit:
            return ids[:n]
    except Exception as e:  # noqa: BLE001
        log(f"prompt from code-dev.jsonl failed ({e}); using random ids")
    import random
    rng = random.Random(1234)
    return [rng.randrange(vocab_limit) for _ in range(n)]


# --------------------------------------------------------------------------- engines

def bench_llama_cpp(gguf: Path, prompt: list[int], gen: int, threads: int, runs: int) -> dict:
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_threads=threads, n_threads_batch=threads,
                n_ctx=max(1024, len(prompt) + gen + 8), n_batch=len(prompt), n_ubatch=len(prompt),
                verbose=False)
    n_vocab = llm.n_vocab()

    def once(p: list[int], steps: int) -> tuple[float, float]:
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(p)
        t1 = time.perf_counter()
        for _ in range(steps):
            # Llama.eval keeps no scores without logits_all (which would make the
            # prefill compute 512 x vocab logits), so read the last row from the C API.
            last = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
            llm.eval([int(np.argmax(last))])
        return t1 - t0, time.perf_counter() - t1

    once(prompt[:32], min(gen, 4))  # warm-up
    pre, dec = [], []
    for _ in range(runs):
        p, d = once(prompt, gen)
        pre.append(len(prompt) / p)
        dec.append(gen / d)
    info = llama_cpp.llama_print_system_info()
    return {"prefill_tokens_per_s": statistics.median(pre), "decode_tokens_per_s": statistics.median(dec),
            "all_prefill": pre, "all_decode": dec, "llama_cpp_version": llama_cpp.__version__,
            "system_info": info.decode() if isinstance(info, bytes) else str(info)}


def bench_torch(model_dir: Path, dtype_name: str, prompt: list[int], gen: int, threads: int, runs: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype_name]
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype).eval()
    ids = torch.tensor([prompt])

    def once(x: torch.Tensor, steps: int) -> tuple[float, float]:
        with torch.inference_mode():
            t0 = time.perf_counter()
            out = model(input_ids=x, use_cache=True, logits_to_keep=1)
            t1 = time.perf_counter()
            past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            for _ in range(steps):
                out = model(input_ids=nxt, past_key_values=past, use_cache=True)
                past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            return t1 - t0, time.perf_counter() - t1

    once(ids[:, :32], min(gen, 4))  # warm-up
    pre, dec = [], []
    for _ in range(runs):
        p, d = once(ids, gen)
        pre.append(len(prompt) / p)
        dec.append(gen / d)
    res = {"prefill_tokens_per_s": statistics.median(pre), "decode_tokens_per_s": statistics.median(dec),
           "all_prefill": pre, "all_decode": dec}
    del model
    return res


def bench_verdant(verdant: Path, model_dir: Path, prompt_len: int, gen: int, threads: int, runs: int) -> dict:
    out = verdant_json(verdant, ["bench", str(model_dir), "--prompt-tokens", str(prompt_len),
                                 "--gen-tokens", str(gen), "--threads", str(threads), "--runs", str(runs),
                                 "--json"], timeout=3600)
    for k in ("prefill_tokens_per_s", "decode_tokens_per_s"):
        if not isinstance(out.get(k), (int, float)):
            raise RuntimeError(f"verdant bench JSON lacks {k}: {out}")
    return out


# --------------------------------------------------------------------------- GGUF

# convert_hf_to_gguf.py identifies a BPE tokenizer's pre-tokenizer by hashing the
# token ids of a fixed test string (get_vocab_base_pre's "chkhsh" table) and
# refuses unknown hashes.  Neither pycoder's tokenizer nor the padded synthetic
# one is in that table, although both use the Qwen2 pre-tokenizer regex.  We
# therefore run the converter through a small shim that catches that refusal and
# answers "qwen2" (the llama.cpp pre-tokenizer with the same regex).  The
# tokenizer is irrelevant to the timing: all engines are fed token ids.
CONVERT_SHIM = r"""
import logging, runpy, sys
llama_dir, script = sys.argv[1], sys.argv[2]
sys.argv = [script] + sys.argv[3:]
sys.path.insert(0, llama_dir)
import conversion.base as base
_orig = base.TextModel.get_vocab_base_pre
def _pre(self, tokenizer):
    try:
        return _orig(self, tokenizer)
    except NotImplementedError:
        logging.getLogger("bench_compare").warning("unknown tokenizer hash -> using pre-tokenizer 'qwen2'")
        return "qwen2"
base.TextModel.get_vocab_base_pre = _pre
runpy.run_path(script, run_name="__main__")
"""


def convert_to_gguf(model_dir: Path, outtype: str, name: str) -> Path:
    out = GGUF_DIR / f"{name}-{outtype}.gguf"
    src_mtime = max(f.stat().st_mtime for f in model_dir.glob("*.safetensors"))
    if out.exists() and out.stat().st_mtime > src_mtime:
        return out
    GGUF_DIR.mkdir(parents=True, exist_ok=True)
    llama_dir = llama_sdist() / "vendor" / "llama.cpp"
    tmp = out.with_suffix(".tmp")
    run([sys.executable, "-c", CONVERT_SHIM, llama_dir, llama_dir / "convert_hf_to_gguf.py",
         model_dir, "--outtype", outtype, "--outfile", tmp],
        stdout=subprocess.DEVNULL, stderr=open(GGUF_DIR / f"{name}-{outtype}.log", "w"))
    tmp.rename(out)
    return out


# --------------------------------------------------------------------------- report

def fmt(x, spec=".1f", na="n/a"):
    return na if x is None else format(x, spec)


def _spread(xs, spec: str) -> str:
    """' (min-max)' of the measured runs, to show the noise; '' when unknown."""
    return f" ({format(min(xs), spec)}-{format(max(xs), spec)})" if xs and len(xs) > 1 else ""


def build_table(rows: list[dict]) -> str:
    head = ("| model | engine | weights | prefill tok/s (min-max) | decode tok/s (min-max) | prefill vs llama.cpp | "
            "decode vs llama.cpp | prefill % of peak FLOP/s | decode % of bandwidth limit |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['model']} | {r['engine']} | {r.get('weights', '')} | n/a | n/a | | | | "
                         f"error: {r['error'][:120].replace('|', '/')} |")
            continue
        lines.append("| " + " | ".join([
            r["model"], r["engine"], r.get("weights", ""),
            fmt(r["prefill_tokens_per_s"]) + _spread(r.get("all_prefill"), ".0f"),
            fmt(r["decode_tokens_per_s"]) + _spread(r.get("all_decode"), ".1f"),
            fmt(r.get("prefill_vs_llama"), ".2f") + ("x" if r.get("prefill_vs_llama") else ""),
            fmt(r.get("decode_vs_llama"), ".2f") + ("x" if r.get("decode_vs_llama") else ""),
            fmt(r.get("prefill_frac_peak") and 100 * r["prefill_frac_peak"], ".1f", "-"),
            fmt(r.get("decode_frac_bw") and 100 * r["decode_frac_bw"], ".1f", "-"),
        ]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verdant vs llama.cpp vs PyTorch eager CPU benchmark")
    ap.add_argument("--runs", type=int, default=3, help="measured runs per engine (median reported)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--models", default="pycoder,qwen-shape",
                    help="comma list of pycoder, qwen-shape, or model directories")
    ap.add_argument("--engines", default="llama.cpp,torch,verdant")
    ap.add_argument("--torch-dtypes", default="bf16", help="comma list of bf16, f32")
    ap.add_argument("--gguf-types", default="bf16", help="comma list of bf16, f32 (convert_hf_to_gguf --outtype)")
    ap.add_argument("--verdant", type=Path, default=REPO / ".build" / "release" / "verdant")
    ap.add_argument("--no-build", action="store_true", help="do not `swift build` Verdant if the binary is missing")
    ap.add_argument("--no-setup", action="store_true", help="run with the current python, do not create a venv")
    ap.add_argument("--json", type=Path, help="also write all results as JSON here")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    if not args.no_setup and not in_venv():
        ensure_venv(skip_llama="llama.cpp" not in engines)
        os.execv(str(venv_python()), [str(venv_python()), __file__, *(argv if argv is not None else sys.argv[1:])])

    cmdline = "python3 scripts/bench_compare.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    # Verdant binary
    verdant = args.verdant if args.verdant.is_absolute() else (Path.cwd() / args.verdant)
    if "verdant" in engines and not verdant.exists() and not args.no_build:
        try:
            run(["swift", "build", "-c", "release", "--product", "verdant"], cwd=REPO)
        except Exception as e:  # noqa: BLE001
            log(f"swift build failed: {e}")

    models = []
    for m in args.models.split(","):
        m = m.strip()
        if m == "pycoder":
            models.append(("pycoder-llama-19m", PYCODER_DIR))
        elif m == "qwen-shape":
            if not (QWEN_DIR / "config.json").exists():
                run([sys.executable, REPO / "scripts" / "make_bench_models.py", "--out", QWEN_DIR])
            models.append(("qwen2.5-coder-0.5b-shape", QWEN_DIR))
        elif m:
            models.append((Path(m).name, Path(m)))

    cpu = cpu_info()
    log(f"CPU: {cpu['model']} ({cpu['cores']} logical cores), flags: {' '.join(cpu['flags'])}")
    machine = machine_figures(verdant, args.threads)
    log(f"machine: {machine}")

    rows: list[dict] = []
    for name, mdir in models:
        facts = model_facts(mdir)
        limit = min(facts["vocab_size"] or 16384, 16384)
        prompt = prompt_ids(args.prompt_tokens, limit)
        flops = prefill_flops(facts, len(prompt))
        log(f"{name}: {facts['params']/1e6:.1f}M params, {facts['bytes_per_token']/1e6:.1f} MB read per token")
        model_rows = []

        def add(engine: str, weights: str, fn):
            row = {"model": name, "engine": engine, "weights": weights}
            log(f"--- {name} / {engine} ({weights})")
            try:
                row.update(fn())
            except Exception as e:  # noqa: BLE001 - one engine failing must not stop the others
                row["error"] = f"{type(e).__name__}: {e}".strip()
                log(f"    failed: {row['error'][:300]}")
            else:
                log(f"    prefill {row['prefill_tokens_per_s']:.1f} tok/s, decode {row['decode_tokens_per_s']:.2f} tok/s")
            model_rows.append(row)

        for e in engines:
            if e == "llama.cpp":
                for t in args.gguf_types.split(","):
                    def f(t=t):
                        return bench_llama_cpp(convert_to_gguf(mdir, t, name), prompt, args.gen_tokens,
                                               args.threads, args.runs)
                    add("llama.cpp", f"gguf {t}", f)
            elif e == "torch":
                for t in args.torch_dtypes.split(","):
                    add("pytorch eager", t, lambda t=t: bench_torch(mdir, t, prompt, args.gen_tokens,
                                                                    args.threads, args.runs))
            elif e == "verdant":
                add("verdant", "safetensors bf16", lambda: bench_verdant(verdant, mdir, len(prompt),
                                                                         args.gen_tokens, args.threads, args.runs))
            else:
                log(f"unknown engine {e!r}")

        ref = next((r for r in model_rows if r["engine"] == "llama.cpp" and "bf16" in r["weights"]
                    and not r.get("error")), None) or \
            next((r for r in model_rows if r["engine"] == "llama.cpp" and not r.get("error")), None)
        for r in model_rows:
            if r.get("error"):
                continue
            if ref:
                r["prefill_vs_llama"] = r["prefill_tokens_per_s"] / ref["prefill_tokens_per_s"]
                r["decode_vs_llama"] = r["decode_tokens_per_s"] / ref["decode_tokens_per_s"]
            # bytes per token from the bf16 checkpoint; f32 weights read twice as much.
            scale = 2.0 if "f32" in r["weights"] else 1.0
            if r["engine"] in ("verdant", "llama.cpp") and machine["bandwidth_gbps"]:
                limit_tps = machine["bandwidth_gbps"] * 1e9 / (facts["bytes_per_token"] * scale)
                r["decode_bw_limit_tokens_per_s"] = limit_tps
                r["decode_frac_bw"] = r["decode_tokens_per_s"] / limit_tps
                if machine["peak_gflops"]:
                    r["prefill_frac_peak"] = flops * r["prefill_tokens_per_s"] / len(prompt) / (
                        machine["peak_gflops"] * 1e9)
        rows += model_rows
        for r in model_rows:
            r["facts"] = facts

    table = build_table(rows)
    print(f"# Verdant vs llama.cpp vs PyTorch eager\n")
    print(f"- command: `{cmdline}`")
    print(f"- date: {started}")
    print(f"- CPU: {cpu['model']}, {cpu['cores']} logical cores; flags: {', '.join(cpu['flags']) or 'none of interest'}")
    print(f"- threads {args.threads}, prompt {args.prompt_tokens} tokens, {args.gen_tokens} greedy decode steps, "
          f"warm-up + median of {args.runs} runs")
    print(f"- memory bandwidth {fmt(machine['bandwidth_gbps'])} GB/s, peak {fmt(machine['peak_gflops'])} GFLOP/s "
          f"({machine['source'].rstrip('; ')})")
    for name, mdir in models:
        f = model_facts(mdir)
        print(f"- {name}: {f['params']/1e6:.1f}M params, {f['bytes_per_token']/1e6:.1f} MB of weights read per "
              f"decoded token (bf16{', tied embeddings read as lm_head' if f['tied'] else ''}), "
              f"prefill {prefill_flops(f, args.prompt_tokens)/1e9:.1f} GFLOP (matmuls only)")
    print()
    print(table)
    print()
    for r in rows:
        if r.get("system_info"):
            print(f"llama-cpp-python {r['llama_cpp_version']} (built with {LLAMA_CMAKE_ARGS}): {r['system_info'].strip()}\n")
            break
    print("Bandwidth limit = bandwidth / weight bytes per token (KV-cache reads ignored); "
          "peak fraction = 2 x matmul params x tokens / time / peak (attention FLOPs ignored).")
    if args.json:
        args.json.write_text(json.dumps({"command": cmdline, "date": started, "cpu": cpu, "machine": machine,
                                         "rows": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
