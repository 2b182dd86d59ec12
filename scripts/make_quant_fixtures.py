#!/usr/bin/env python3
"""Golden bytes for Verdant's GGUF-compatible quantizers (Q8_0, Q4_0, Q4_1).

    ~/.cache/verdant/bench-venv/bin/python scripts/make_quant_fixtures.py

Quantizes a few rows (random ones plus edge cases: an all-zero block, a block whose
largest magnitude is negative, +a/-a ties, exact .5 rounding points, tiny values
whose f16 scale is subnormal or zero, a scale that overflows f16, a constant block)
with gguf-py's reference numpy quantizers (gguf.quants.quantize) and writes
Tests/VerdantTensorsTests/Fixtures/quant_golden.json. VerdantTensorsTests/
QuantGoldenTests.swift asserts that Verdant's codec produces the same bytes.

When llama-cpp-python's libggml-base is importable, the same rows are also
quantized with ggml's C reference (ggml_quantize_chunk) and every disagreement
between gguf-py and ggml is printed and recorded in the fixture ("ggml_differs"),
so the test can say which of the two Verdant matches.
"""
from __future__ import annotations

import ctypes
import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

OUT = Path(__file__).resolve().parent.parent / "Tests" / "VerdantTensorsTests" / "Fixtures" / "quant_golden.json"
TYPES = {"q8_0": Q.Q8_0, "q4_0": Q.Q4_0, "q4_1": Q.Q4_1}


def cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(20240607)
    f = np.float32
    out: list[tuple[str, np.ndarray]] = []
    out.append(("random_normal", rng.standard_normal((3, 96)).astype(f)))
    out.append(("random_uniform_wide", (rng.uniform(-50, 50, (2, 64))).astype(f)))
    out.append(("random_small_weights", (rng.standard_normal((2, 64)) * 0.02).astype(f)))

    zero_block = rng.standard_normal(64).astype(f)
    zero_block[:32] = 0
    out.append(("all_zero_block", zero_block[None, :]))

    neg = rng.uniform(-1, 1, 64).astype(f)
    neg[5] = -3.0      # largest magnitude is negative in block 0
    neg[40] = -2.5
    neg[41] = 2.5      # +a / -a tie in block 1: the first one wins
    out.append(("negative_max_and_ties", neg[None, :]))

    # Block 0: max 127 -> q8_0 scale 1, codes are the values: exact .5 points.
    half = np.zeros(64, dtype=f)
    half[:32] = np.array([127, -0.5, 0.5, 1.5, -1.5, 2.5, -2.5, 126.5] + list(range(-12, 12)), dtype=f)
    # Block 1: min -8 -> q4_0 scale 1 (x + 8.5 truncated); q4_1 over [-8, 7] -> scale 1.
    half[32:64] = np.array([-8, 7] + [x * 0.5 for x in range(-15, 15)], dtype=f)
    out.append(("rounding_half_points", half[None, :]))

    tiny = (rng.standard_normal((2, 64)) * 1e-6).astype(f)  # f16 scales subnormal
    tiny[1, :32] *= 1e-3                                     # f16 scale rounds to zero
    out.append(("tiny_values", tiny))
    out.append(("very_tiny_f32", (rng.standard_normal((1, 32)) * 1e-30).astype(f)))

    big = (rng.standard_normal((1, 64)) * 1e7).astype(f)     # q8_0 scale overflows f16
    out.append(("huge_values", big))

    const = np.full((1, 64), 0.3, dtype=f)
    const[0, 32:] = -1.25
    out.append(("constant_blocks", const))

    # q4_1 minimum not representable in f16: gguf-py/ggml use the exact minimum for codes.
    offset = (rng.uniform(0, 1, (1, 64)) + 1000.123).astype(f)
    out.append(("large_offset", offset))
    return out


def ggml_quantizer():
    """ggml_quantize_chunk from llama-cpp-python's bundled libggml-base, or None."""
    try:
        import llama_cpp  # noqa: F401  (locates the bundled libraries)
        libdir = Path(llama_cpp.__file__).parent / "lib"
        lib = ctypes.CDLL(str(libdir / "libggml-base.so"))
    except Exception as e:  # pragma: no cover - optional
        print(f"ggml C reference unavailable ({e}); recording gguf-py only", file=sys.stderr)
        return None
    fn = lib.ggml_quantize_chunk
    fn.restype = ctypes.c_size_t
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                   ctypes.c_int64, ctypes.c_void_p]

    def quantize(x: np.ndarray, qtype: Q) -> bytes:
        rows, cols = x.shape
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        dst = np.zeros(rows * cols // block_size * type_size, dtype=np.uint8)
        src = np.ascontiguousarray(x, dtype=np.float32)
        fn(int(qtype), src.ctypes.data, dst.ctypes.data, 0, rows, cols, None)
        return dst.tobytes()
    return quantize


def main() -> None:
    ggml = ggml_quantizer()
    records = []
    disagreements = 0
    for name, x in cases():
        rec = {"name": name, "rows": int(x.shape[0]), "cols": int(x.shape[1]),
               "input_bits": [int(b) for b in x.astype(np.float32).view(np.uint32).reshape(-1)],
               "expected": {}, "ggml_differs": {}}
        for tname, qtype in TYPES.items():
            with np.errstate(all="ignore"):
                ref = gguf.quants.quantize(x, qtype).tobytes()
            rec["expected"][tname] = ref.hex()
            if ggml is not None:
                c = ggml(x, qtype)
                if c != ref:
                    disagreements += 1
                    rec["ggml_differs"][tname] = c.hex()
                    block = gguf.GGML_QUANT_SIZES[qtype][1]
                    first = next(i for i in range(len(c)) if c[i] != ref[i])
                    print(f"{name} {tname}: gguf-py and ggml differ from byte {first} (block {first // block})",
                          file=sys.stderr)
        records.append(rec)
    meta = {"generator": "scripts/make_quant_fixtures.py", "gguf_py": importlib.metadata.version("gguf"),
            "numpy": np.__version__, "ggml_checked": ggml is not None, "ggml_disagreements": disagreements}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "cases": records}, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(records)} cases, "
          f"ggml C reference {'checked' if ggml else 'not checked'}: {disagreements} disagreements)")


if __name__ == "__main__":
    main()
