#!/usr/bin/env python3
"""Copies of a Llama-family checkpoint with some decoder layers removed (naive depth pruning,
no recovery training), as stand-in candidates for `verdant compare` demonstrations.

    /work/venv/bin/python scripts/make_layer_dropped.py MODEL_DIR OUT_DIR --keep 0,1,2,3,6,7

Needs torch and safetensors; writes config.json (num_hidden_layers updated),
model.safetensors (layers renumbered) and copies the tokenizer and generation files.
"""

import argparse
import json
import os
import re
import shutil

from safetensors import safe_open
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--keep", required=True, help="comma-separated indices of the layers to keep, in order")
    args = ap.parse_args()
    keep = [int(i) for i in args.keep.split(",")]
    with open(os.path.join(args.model_dir, "config.json")) as f:
        config = json.load(f)
    n = config["num_hidden_layers"]
    if not keep or any(i < 0 or i >= n for i in keep):
        raise SystemExit(f"--keep must name layers in 0..{n - 1}")
    renumber = {old: new for new, old in enumerate(keep)}
    tensors = {}
    with safe_open(os.path.join(args.model_dir, "model.safetensors"), framework="pt") as f:
        metadata = f.metadata()
        for name in f.keys():
            m = re.match(r"model\.layers\.(\d+)\.(.*)", name)
            if m:
                old = int(m.group(1))
                if old in renumber:
                    tensors[f"model.layers.{renumber[old]}.{m.group(2)}"] = f.get_tensor(name)
            else:
                tensors[name] = f.get_tensor(name)
    os.makedirs(args.out_dir, exist_ok=True)
    save_file(tensors, os.path.join(args.out_dir, "model.safetensors"), metadata=metadata)
    config["num_hidden_layers"] = len(keep)
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for extra in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
        src = os.path.join(args.model_dir, extra)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(args.out_dir, extra))
    print(f"{args.out_dir}: layers {keep} of {n}")


if __name__ == "__main__":
    main()
