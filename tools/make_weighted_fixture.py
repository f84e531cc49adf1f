#!/usr/bin/env python3
"""tests/fixtures/tiny-sd2-weighted: tiny-sd2 (symbolic links, no copies) with a text encoder
whose final LayerNorm has a seeded bias.

A random-weight CLIP text encoder's final LayerNorm is untrained (weight 1, bias 0), so its
hidden states have a mean near 0 and A1111's emphasis rescale (`mean(z) / mean(z * w)`) divides
noise by noise. Here the bias is `RandomState(BIAS_SEED).uniform(0.5, 1.5, hidden)`, so the
hidden states' mean is about 1 and the weighted prompt tests exercise a defined rescale.

The graph is tiny-sd2's `text_encoder/model.onnx` with one change: the node that aliased the
final LayerNorm's bias to a shared zero initializer (`Identity` -> `text_model.final_layer_norm.bias`)
is replaced by an initializer of that name holding the seeded bias. Every weight is stored in
the graph file (ONNX Runtime refuses external data reached through a link out of the folder).

Run from the repository root (after tools/make_tiny_model.py):

    /work/venv/bin/python tools/make_weighted_fixture.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "tests" / "fixtures" / "tiny-sd2"
OUT = REPO / "tests" / "fixtures" / "tiny-sd2-weighted"
BIAS = "text_model.final_layer_norm.bias"
BIAS_SEED = 16


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for part in ["tokenizer", "unet", "vae_decoder", "vae_encoder", "scheduler", "model_index.json"]:
        (OUT / part).symlink_to(Path("..") / SRC.name / part)

    te = OUT / "text_encoder"
    te.mkdir()
    shutil.copyfile(SRC / "text_encoder" / "config.json", te / "config.json")
    # ONNX Runtime refuses external data outside the graph's folder (a link to tiny-sd2's
    # model.onnx_data included), so the weights are stored in the graph file (6.4 MB).
    model = onnx.load(str(SRC / "text_encoder" / "model.onnx"))
    g = model.graph
    aliases = [n for n in g.node if n.op_type == "Identity" and list(n.output) == [BIAS]]
    assert len(aliases) == 1, f"expected one Identity making {BIAS}"
    g.node.remove(aliases[0])
    hidden = json.loads((SRC / "text_encoder" / "config.json").read_text())["hidden_size"]
    bias = np.random.RandomState(BIAS_SEED).uniform(0.5, 1.5, hidden).astype(np.float32)
    g.initializer.append(numpy_helper.from_array(bias, BIAS))
    onnx.save(model, str(te / "model.onnx"))
    (OUT / "README.md").write_text(
        "# tiny-sd2-weighted\n\n"
        "tiny-sd2 (symbolic links) with a text encoder whose final LayerNorm bias is\n"
        f"`RandomState({BIAS_SEED}).uniform(0.5, 1.5, {hidden})` instead of zeros, so that A1111's\n"
        "emphasis rescale works on hidden states with a defined (non-zero) mean. Its weights\n"
        "are those of tiny-sd2's text encoder, stored in the one graph file.\n"
        "Made by `python tools/make_weighted_fixture.py`.\n")
    print("wrote", OUT.relative_to(REPO), "bias mean", float(bias.mean()))


if __name__ == "__main__":
    main()
