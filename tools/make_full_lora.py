#!/usr/bin/env python3
"""A random-weight LoRA for a full-size model folder, for benchmarks (not for git): PEFT keys as
diffusers' `save_lora_weights` writes them (`unet.<module>.lora_A.weight` [r, in],
`.lora_B.weight` [out, r]) on every attention projection of the UNet (to_q, to_k, to_v,
to_out.0: what diffusers' training scripts target by default), in float16. The layers and
their sizes come from the folder's `unet/model.onnx` (its MatMul nodes named after the module
path, their weight initializers [in, out]); weights are not read.

    /work/venv/bin/python tools/make_full_lora.py /work/full-sdxl target/bench/lora-1.safetensors \
        --rank 32 --seed 1

For /work/full-sdxl at rank 32 it writes 560 layers, 93,063,064 bytes (the size it prints).
"""

import argparse
from pathlib import Path

import numpy as np
import onnx
from safetensors.numpy import save_file

TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    graph = onnx.load(str(a.model / "unet" / "model.onnx"), load_external_data=False).graph
    dims = {t.name: list(t.dims) for t in graph.initializer}
    rng = np.random.RandomState(a.seed)
    tensors = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in dims:
            continue
        module = ".".join(node.name.strip("/").split("/")[:-1])
        if not module.endswith(TARGETS):
            continue
        fan_in, fan_out = dims[node.input[1]]
        key = f"unet.{module}"
        tensors[f"{key}.lora_A.weight"] = (
            rng.standard_normal((a.rank, fan_in)) / np.sqrt(fan_in)).astype(np.float16)
        tensors[f"{key}.lora_B.weight"] = (
            rng.standard_normal((fan_out, a.rank)) / np.sqrt(a.rank) * 0.05).astype(np.float16)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(a.out), metadata={"format": "pt"})
    print(f"{a.out}: {len(tensors) // 2} layers, rank {a.rank}, {a.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
