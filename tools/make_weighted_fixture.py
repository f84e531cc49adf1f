#!/usr/bin/env python3
"""The fixtures of the weighted-prompt tests: tiny models (symbolic links, no copies) whose
text encoders give hidden states with a defined, non-zero mean.

A random-weight CLIP text encoder is untrained: its final LayerNorm has weight 1 and bias 0,
so `last_hidden_state` has a mean near 0, and A1111's emphasis rescale
(`mean(z) / mean(z * w)`) would divide noise by noise. So:

- tests/fixtures/tiny-sd2-weighted: tiny-sd2 with the text encoder's final LayerNorm bias
  (`text_model.final_layer_norm.bias`, what SD's `last_hidden_state` ends with) set to
  `RandomState(16).uniform(0.5, 1.5, hidden)`.
- tests/fixtures/tiny-sdxl-weighted: tiny-sdxl, whose conditioning is each encoder's
  penultimate hidden state (`hidden_states.{N-1}`, before the final LayerNorm): the bias of the
  MLP output of the layer that makes it (`text_model.encoder.layers.{N-2}.mlp.fc2.bias`) is
  set to `RandomState(17 + k).uniform(0.5, 1.5, hidden)` for encoder k (0, 1).

Each graph is the original with one change: the node that aliased that bias to a shared zero
initializer (`Identity` -> the bias's name) is replaced by an initializer of that name with the
seeded values. Every weight is stored in the graph file: ONNX Runtime refuses external data
reached through a link out of the graph's folder.

Run from the repository root (after tools/make_tiny_model.py and tools/make_tiny_sdxl.py):

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
FIXTURES = REPO / "tests" / "fixtures"


def biased(src: Path, dst: Path, bias_name: str, seed: int) -> float:
    """`src/model.onnx` with `bias_name` replaced by seeded values, written to `dst/`."""
    dst.mkdir()
    shutil.copyfile(src / "config.json", dst / "config.json")
    model = onnx.load(str(src / "model.onnx"))
    g = model.graph
    aliases = [n for n in g.node if n.op_type == "Identity" and list(n.output) == [bias_name]]
    assert len(aliases) == 1, f"{src}: expected one Identity making {bias_name}"
    g.node.remove(aliases[0])
    hidden = json.loads((src / "config.json").read_text())["hidden_size"]
    bias = np.random.RandomState(seed).uniform(0.5, 1.5, hidden).astype(np.float32)
    g.initializer.append(numpy_helper.from_array(bias, bias_name))
    onnx.save(model, str(dst / "model.onnx"))
    return float(bias.mean())


def make(src_name: str, out_name: str, encoders, parts, readme: str):
    src, out = FIXTURES / src_name, FIXTURES / out_name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for part in parts:
        (out / part).symlink_to(Path("..") / src_name / part)
    for part, bias_name, seed in encoders:
        mean = biased(src / part, out / part, bias_name, seed)
        print(f"wrote {(out / part).relative_to(REPO)}: {bias_name} mean {mean:.4f}")
    (out / "README.md").write_text(readme)


def layers(src: Path) -> int:
    return json.loads((src / "config.json").read_text())["num_hidden_layers"]


def main():
    make("tiny-sd2", "tiny-sd2-weighted",
         [("text_encoder", "text_model.final_layer_norm.bias", 16)],
         ["tokenizer", "unet", "vae_decoder", "vae_encoder", "scheduler", "model_index.json"],
         "# tiny-sd2-weighted\n\n"
         "tiny-sd2 (symbolic links) with a text encoder whose final LayerNorm bias is\n"
         "`RandomState(16).uniform(0.5, 1.5, 32)` instead of zeros, so that A1111's\n"
         "emphasis rescale works on hidden states with a defined (non-zero) mean. Its weights\n"
         "are those of tiny-sd2's text encoder, stored in the one graph file.\n"
         "Made by `python tools/make_weighted_fixture.py`.\n")
    sdxl = FIXTURES / "tiny-sdxl"
    encoders = []
    for k, part in enumerate(["text_encoder", "text_encoder_2"]):
        n = layers(sdxl / part)
        encoders.append((part, f"text_model.encoder.layers.{n - 2}.mlp.fc2.bias", 17 + k))
    make("tiny-sdxl", "tiny-sdxl-weighted", encoders,
         ["tokenizer", "tokenizer_2", "unet", "vae_decoder", "vae_encoder", "scheduler",
          "model_index.json"],
         "# tiny-sdxl-weighted\n\n"
         "tiny-sdxl (symbolic links) with text encoders whose penultimate hidden state (SDXL's\n"
         "conditioning) has a defined mean: the MLP output bias of the layer that makes it\n"
         "(`text_model.encoder.layers.{N-2}.mlp.fc2.bias`) is `RandomState(17 + k)\n"
         ".uniform(0.5, 1.5, hidden)` for encoder k. Weights otherwise tiny-sdxl's, stored in\n"
         "each graph file. Made by `python tools/make_weighted_fixture.py`.\n")


if __name__ == "__main__":
    main()
