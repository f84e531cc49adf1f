#!/usr/bin/env python3
"""Export diffusers ControlNets, and a UNet that takes their residuals, to ONNX for sdrt.

optimum cannot export either (optimum issues #961 and #1376): its UNet export has no inputs for
`down_block_additional_residuals` / `mid_block_additional_residual`, and it has no ControlNet
task. This does both with `torch.onnx.export` (the TorchScript exporter optimum also uses,
opset 18) of two small wrapper modules, with the dynamic batch, height and width axes optimum's
UNet export has.

Usage, for a diffusers folder whose ONNX export (optimum-cli export onnx) is in MODEL:

    python tools/export_controlnet.py --unet DIFFUSERS_DIR/unet MODEL
    python tools/export_controlnet.py --controlnet CONTROLNET_DIR --name canny MODEL

The first replaces MODEL/unet/model.onnx by the residual-taking UNet (it gives the plain UNet's
output when the residuals are zero, which is what sdrt feeds when a call has no ControlNet, so
one UNet serves both); the second writes MODEL/controlnet/NAME/model.onnx and its config.json.

The graphs:

- ControlNet: inputs `sample` [batch, 4, height, width], `timestep` [] (float32),
  `encoder_hidden_states` [batch, sequence_length, cross], `controlnet_cond`
  [batch, 3, 8 * height, 8 * width] (RGB in [0, 1]), `conditioning_scale` [] (float32; every
  residual is multiplied by it, as diffusers' ControlNetModel outside guess mode), and for SDXL
  `text_embeds` [batch, projection] and `time_ids` [batch, 6]; outputs
  `down_block_res_sample_0..N-1` and `mid_block_res_sample`.
- UNet: optimum's inputs (`sample`, `timestep`, `encoder_hidden_states`, SDXL's `text_embeds`
  and `time_ids`) then `down_block_additional_residual_0..N-1` and
  `mid_block_additional_residual`; output `out_sample`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

OPSET = 18


class ControlNetGraph(torch.nn.Module):
    """diffusers' ControlNetModel with the conditioning scale as a tensor input and the
    residuals as separate outputs (guess mode's per-residual ramp is the caller's)."""

    def __init__(self, controlnet, sdxl: bool):
        super().__init__()
        self.controlnet = controlnet
        self.sdxl = sdxl

    def forward(self, sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale,
                text_embeds=None, time_ids=None):
        added = {"text_embeds": text_embeds, "time_ids": time_ids} if self.sdxl else None
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                                    controlnet_cond=controlnet_cond,
                                    conditioning_scale=conditioning_scale,
                                    added_cond_kwargs=added, guess_mode=False, return_dict=False)
        return (*down, mid)


class UnetGraph(torch.nn.Module):
    """diffusers' UNet2DConditionModel with each ControlNet residual as an input."""

    def __init__(self, unet, sdxl: bool, n_down: int):
        super().__init__()
        self.unet = unet
        self.sdxl = sdxl
        self.n_down = n_down

    def forward(self, sample, timestep, encoder_hidden_states, *rest):
        if self.sdxl:
            text_embeds, time_ids, *rest = rest
            added = {"text_embeds": text_embeds, "time_ids": time_ids}
        else:
            added = None
        down, mid = list(rest[: self.n_down]), rest[self.n_down]
        return self.unet(sample, timestep, encoder_hidden_states, added_cond_kwargs=added,
                         down_block_additional_residuals=down, mid_block_additional_residual=mid,
                         return_dict=False)[0]


def is_sdxl(model) -> bool:
    return getattr(model.config, "addition_embed_type", None) == "text_time"


def example_inputs(unet_or_cn, batch=2, h=8, w=12, seq=77):
    cfg = unet_or_cn.config
    sample = torch.randn(batch, cfg.in_channels, h, w)
    timestep = torch.tensor(981.0)
    states = torch.randn(batch, seq, cfg.cross_attention_dim)
    extra = []
    if is_sdxl(unet_or_cn):
        n_time = 6
        proj = cfg.projection_class_embeddings_input_dim - n_time * cfg.addition_time_embed_dim
        extra = [torch.randn(batch, proj), torch.randn(batch, n_time) * 64]
    return sample, timestep, states, extra


def residual_shapes(controlnet, batch=2, h=8, w=12):
    """The residuals' shapes for a latent of h x w (runs the ControlNet once)."""
    sample, timestep, states, extra = example_inputs(controlnet, batch, h, w)
    cond = torch.rand(batch, 3, 8 * h, 8 * w)
    with torch.no_grad():
        out = ControlNetGraph(controlnet, is_sdxl(controlnet))(sample, timestep, states, cond,
                                                               torch.tensor(1.0), *extra)
    return [tuple(o.shape) for o in out]


def export_controlnet(controlnet, path: Path):
    """Writes the ControlNet's graph to `path` (its folder gets config.json)."""
    controlnet = controlnet.eval()
    sdxl = is_sdxl(controlnet)
    sample, timestep, states, extra = example_inputs(controlnet)
    cond = torch.rand(sample.shape[0], 3, 8 * sample.shape[2], 8 * sample.shape[3])
    n = len(residual_shapes(controlnet)) - 1
    names = ["sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale"]
    names += ["text_embeds", "time_ids"] if sdxl else []
    outputs = [f"down_block_res_sample_{k}" for k in range(n)] + ["mid_block_res_sample"]
    axes = {
        "sample": {0: "batch_size", 2: "height", 3: "width"},
        "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
        "controlnet_cond": {0: "batch_size", 2: "image_height", 3: "image_width"},
    }
    if sdxl:
        axes["text_embeds"] = {0: "batch_size"}
        axes["time_ids"] = {0: "batch_size"}
    for k, name in enumerate(outputs):
        axes[name] = {0: "batch_size", 2: f"height_{k}", 3: f"width_{k}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(ControlNetGraph(controlnet, sdxl),
                          (sample, timestep, states, cond, torch.tensor(1.0), *extra), str(path),
                          input_names=names, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    controlnet.save_config(path.parent)
    return n


def export_unet(unet, path: Path, n_down: int):
    """Writes the residual-taking UNet to `path` (its folder gets config.json)."""
    unet = unet.eval()
    sdxl = is_sdxl(unet)
    sample, timestep, states, extra = example_inputs(unet)
    from diffusers import ControlNetModel

    probe = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 8, 16))
    shapes = residual_shapes(probe)
    assert len(shapes) == n_down + 1, (shapes, n_down)
    residuals = [torch.zeros(s) for s in shapes]
    names = ["sample", "timestep", "encoder_hidden_states"]
    names += ["text_embeds", "time_ids"] if sdxl else []
    res_names = [f"down_block_additional_residual_{k}" for k in range(n_down)]
    res_names.append("mid_block_additional_residual")
    axes = {
        "sample": {0: "batch_size", 2: "height", 3: "width"},
        "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
        "out_sample": {0: "batch_size", 2: "height", 3: "width"},
    }
    if sdxl:
        axes["text_embeds"] = {0: "batch_size"}
        axes["time_ids"] = {0: "batch_size"}
    for k, name in enumerate(res_names):
        axes[name] = {0: "batch_size", 2: f"height_{k}", 3: f"width_{k}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(UnetGraph(unet, sdxl, n_down),
                          (sample, timestep, states, *extra, *residuals), str(path),
                          input_names=names + res_names, output_names=["out_sample"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True,
                          dynamo=False)
    unet.save_config(path.parent)


def down_residual_count(unet) -> int:
    """Residuals a ControlNet derived from `unet` gives besides the mid block's."""
    from diffusers import ControlNetModel

    probe = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 8, 16))
    return len(residual_shapes(probe)) - 1


def main():
    from diffusers import ControlNetModel, UNet2DConditionModel

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="the ONNX model folder (optimum-cli export onnx)")
    ap.add_argument("--unet", type=Path, help="a diffusers UNet folder: replaces MODEL/unet")
    ap.add_argument("--controlnet", type=Path, help="a diffusers ControlNet folder")
    ap.add_argument("--name", help="the ControlNet's folder name under MODEL/controlnet")
    a = ap.parse_args()
    if a.unet:
        unet = UNet2DConditionModel.from_pretrained(a.unet)
        out = a.model / "unet"
        tmp = a.model / "unet.controlnet-export"
        export_unet(unet, tmp / "model.onnx", down_residual_count(unet))
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        print("wrote", out / "model.onnx")
    if a.controlnet:
        if not a.name:
            ap.error("--controlnet needs --name")
        cn = ControlNetModel.from_pretrained(a.controlnet)
        n = export_controlnet(cn, a.model / "controlnet" / a.name / "model.onnx")
        print("wrote", a.model / "controlnet" / a.name / "model.onnx", f"({n} down residuals)")
    if not (a.unet or a.controlnet):
        ap.error("nothing to do: give --unet and/or --controlnet")


if __name__ == "__main__":
    main()
