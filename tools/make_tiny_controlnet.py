#!/usr/bin/env python3
"""Build tests/fixtures/tiny-sd2-controlnet and tests/fixtures/tiny-sdxl-controlnet: tiny-sd2's
and tiny-sdxl's parts (symbolic links), their UNet exported again to take ControlNet residuals
(tools/export_controlnet.py), and two tiny random ControlNets each, `controlnet/canny` and
`controlnet/depth`.

Run from the repository root, after tools/make_tiny_model.py and tools/make_tiny_sdxl.py:

    /work/venv/bin/python tools/make_tiny_controlnet.py [--sd2-only | --sdxl-only | --mismatched-only]

tiny-sd2-controlnet also gets `mismatched/model.onnx` (make_mismatched): a ControlNet made for
another UNet architecture, for the test that sdrt refuses it.

The UNets are rebuilt from their fixtures' seeds (make_tiny_model.build_pipeline,
make_tiny_sdxl.build_base) and checked against the committed graphs. Each ControlNet is
`ControlNetModel.from_unet(unet, load_weights_from_unet=False)` (the UNet's configuration)
with torch's default random initialisation from its own seed, and its zero convolutions (the
conditioning embedding's `conv_out`, `controlnet_down_blocks`, `controlnet_mid_block`)
initialised again as ordinary convolutions and multiplied by ZERO_CONV_GAIN: zero, they would make
the ControlNet a no-op. Deterministic (CPU, fixed seeds).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_controlnet  # noqa: E402
import make_tiny_model  # noqa: E402
import make_tiny_sdxl  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
SD2 = FIXTURES / "tiny-sd2"
SDXL = FIXTURES / "tiny-sdxl"
SD2_CN = FIXTURES / "tiny-sd2-controlnet"
SDXL_CN = FIXTURES / "tiny-sdxl-controlnet"

# One seed per ControlNet; SDXL's are SEED + 10 and + 11.
SEED = 20261205
NAMES = ("canny", "depth")
# Channels of the conditioning embedding (8x down-sampling: 3 stride-2 convolutions).
COND_CHANNELS = (4, 8, 8, 16)
ZERO_CONV_GAIN = 2.0


@torch.no_grad()
def build_controlnet(unet, seed: int):
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    cn = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=COND_CHANNELS,
                                   load_weights_from_unet=False).eval()
    zero = [cn.controlnet_cond_embedding.conv_out, *cn.controlnet_down_blocks, cn.controlnet_mid_block]
    for conv in zero:
        conv.reset_parameters()
        conv.weight.mul_(ZERO_CONV_GAIN)
        conv.bias.mul_(ZERO_CONV_GAIN)
    return cn


def sd2_parts(workdir: Path):
    """tiny-sd2's torch pipeline (rebuilt from its seed) and its two ControlNets."""
    pipe = make_tiny_model.build_pipeline(workdir)
    cns = [build_controlnet(pipe.unet, SEED + k) for k in range(len(NAMES))]
    return pipe, cns


def sdxl_parts(workdir: Path):
    """tiny-sdxl's torch pipeline (rebuilt from its seed) and its two ControlNets."""
    pipe = make_tiny_sdxl.build_base(workdir)
    cns = [build_controlnet(pipe.unet, SEED + 10 + k) for k in range(len(NAMES))]
    return pipe, cns


def link(dst: Path, target: str):
    dst.symlink_to(target)


def ort_session(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def unet_inputs(pipe, sdxl: bool, batch=2, h=8, w=12):
    g = np.random.RandomState(1)
    feeds = {
        "sample": g.randn(batch, 4, h, w).astype(np.float32),
        "timestep": np.array(501.0, np.float32),
        "encoder_hidden_states": g.randn(batch, 77, pipe.unet.config.cross_attention_dim).astype(np.float32),
    }
    if sdxl:
        feeds["text_embeds"] = g.randn(batch, 16).astype(np.float32)
        feeds["time_ids"] = np.array([[64, 96, 0, 0, 64, 96]] * batch, np.float32)
    return feeds


@torch.no_grad()
def check(folder: Path, plain: Path, pipe, cns, sdxl: bool):
    """The residual UNet with zero residuals vs the fixture's plain UNet; each ControlNet graph
    vs torch; the UNet graph with the ControlNet's residuals vs torch. Returns the distances."""
    feeds = unet_inputs(pipe, sdxl)
    plain_out = ort_session(plain / "unet" / "model.onnx").run(None, feeds)[0]
    unet = ort_session(folder / "unet" / "model.onnx")
    names = [i.name for i in unet.get_inputs()]
    res = [i for i in unet.get_inputs() if "additional_residual" in i.name]
    cond = np.random.RandomState(2).rand(2, 3, 64, 96).astype(np.float32)
    stats = {}
    torch_in = {k: torch.from_numpy(v) for k, v in feeds.items()}
    added = ({"text_embeds": torch_in["text_embeds"], "time_ids": torch_in["time_ids"]} if sdxl else None)
    for name, cn in zip(NAMES, cns):
        s = ort_session(folder / "controlnet" / name / "model.onnx")
        cfeeds = dict(feeds, controlnet_cond=cond, conditioning_scale=np.array(0.7, np.float32))
        outs = s.run(None, cfeeds)
        down, mid = cn(torch_in["sample"], torch_in["timestep"], torch_in["encoder_hidden_states"],
                       torch.from_numpy(cond), conditioning_scale=0.7, added_cond_kwargs=added,
                       return_dict=False)
        ref = [t.numpy() for t in (*down, mid)]
        stats[f"{name}_onnx_vs_torch"] = max(float(np.abs(a - b).max()) for a, b in zip(outs, ref))
        stats[f"{name}_residual_rms"] = [round(float(np.sqrt((o ** 2).mean())), 4) for o in outs]
        ufeeds = dict(feeds)
        for i, o in zip(res, outs):
            ufeeds[i.name] = o
        got = unet.run(None, ufeeds)[0]
        want = pipe.unet(torch_in["sample"], torch_in["timestep"], torch_in["encoder_hidden_states"],
                         added_cond_kwargs=added, down_block_additional_residuals=list(down),
                         mid_block_additional_residual=mid, return_dict=False)[0].numpy()
        stats[f"unet_with_{name}_onnx_vs_torch"] = float(np.abs(got - want).max())
        stats[f"unet_with_{name}_vs_zero_residuals_mean"] = float(np.abs(got - plain_out).mean())
    zfeeds = dict(feeds)
    for i in res:
        shape = [feeds["sample"].shape[0] if isinstance(d, str) else d for d in i.shape]
        zfeeds[i.name] = np.zeros([s if isinstance(s, int) else 1 for s in shape], np.float32)
    # Zero residuals of each residual's real shape (from the ControlNet run above).
    for i, o in zip(res, outs):
        zfeeds[i.name] = np.zeros_like(o)
    stats["zero_residuals_vs_plain_unet_max"] = float(np.abs(unet.run(None, zfeeds)[0] - plain_out).max())
    stats["residual_inputs"] = [n for n in names if "additional_residual" in n]
    return stats


def make(folder: Path, plain: Path, parts, sdxl: bool):
    with tempfile.TemporaryDirectory() as td:
        pipe, cns = parts(Path(td))
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        n = export_controlnet.down_residual_count(pipe.unet)
        export_controlnet.export_unet(pipe.unet, folder / "unet" / "model.onnx", n)
        for name, cn in zip(NAMES, cns):
            export_controlnet.export_controlnet(cn, folder / "controlnet" / name / "model.onnx")
        make_tiny_model.normalize_configs(folder, folder.name)
        for part in sorted(p.name for p in plain.iterdir() if p.is_dir() and p.name != "unet"):
            link(folder / part, f"../{plain.name}/{part}")
        index = json.loads((plain / "model_index.json").read_text())
        index["_name_or_path"] = folder.name
        (folder / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        stats = check(folder, plain, pipe, cns, sdxl)
    print(f"[{folder.name}]", json.dumps(stats, indent=1))
    assert stats["zero_residuals_vs_plain_unet_max"] < 1e-4, stats
    write_readme(folder, plain, stats, sdxl)
    return stats


def write_readme(folder: Path, plain: Path, stats, sdxl: bool):
    seeds = [SEED + (10 if sdxl else 0) + k for k in range(len(NAMES))]
    sizes = {p.relative_to(folder).as_posix(): p.stat().st_size
             for p in sorted(folder.rglob("*.onnx")) if not any(q.is_symlink() for q in p.parents)}
    lines = [
        f"# {folder.name}",
        "",
        f"{plain.name}'s parts (symbolic links: every folder but `unet/` and `controlnet/`) with",
        "the same UNet (rebuilt from its seed) exported again by tools/export_controlnet.py to take",
        "ControlNet residuals, and two tiny **random** ControlNets. Built by",
        "`tools/make_tiny_controlnet.py`; do not edit by hand.",
        "",
        "- `unet/model.onnx`: inputs as optimum's export, then `down_block_additional_residual_0..%d`"
        % (len(stats["residual_inputs"]) - 2),
        "  and `mid_block_additional_residual`. With zero residuals it gives the plain UNet's output",
        f"  ({plain.name}/unet, max |diff| {stats['zero_residuals_vs_plain_unet_max']:.2e}).",
        "- `controlnet/canny`, `controlnet/depth`: `ControlNetModel.from_unet(unet,",
        f"  conditioning_embedding_out_channels={COND_CHANNELS}, load_weights_from_unet=False)`, torch",
        f"  seeds {seeds[0]} and {seeds[1]}; zero convolutions re-initialised (gain {ZERO_CONV_GAIN}).",
        "",
        "Measured by the script (ONNX Runtime CPU vs torch, a batch of 2 at 8x12 latents):",
        "",
    ]
    for k, v in stats.items():
        if k != "residual_inputs":
            lines.append(f"- {k}: {v}")
    lines += ["", "Files (bytes): " + ", ".join(f"`{k}` {v}" for k, v in sizes.items()), ""]
    (folder / "README.md").write_text("\n".join(lines))


MISMATCHED = SD2_CN / "mismatched"


@torch.no_grad()
def make_mismatched():
    """tiny-sd2-controlnet/mismatched/model.onnx: a ControlNet for another UNet architecture
    (layers_per_block 2, narrower blocks: 10 residuals, not 7), which sdrt must refuse."""
    from diffusers import UNet2DConditionModel

    with tempfile.TemporaryDirectory() as td:
        pipe = make_tiny_model.build_pipeline(Path(td))
    cfg = dict(pipe.unet.config, layers_per_block=2, block_out_channels=(8, 8, 16),
               norm_num_groups=4)
    torch.manual_seed(SEED + 20)
    unet = UNet2DConditionModel.from_config(cfg).eval()
    cn = build_controlnet(unet, SEED + 20)
    if MISMATCHED.exists():
        shutil.rmtree(MISMATCHED)
    n = export_controlnet.export_controlnet(cn, MISMATCHED / "model.onnx")
    make_tiny_model.normalize_configs(MISMATCHED, f"{SD2_CN.name}/mismatched")
    print(f"[mismatched] {n} down residuals")


def main():
    if "--mismatched-only" in sys.argv:
        make_mismatched()
        return
    if "--sdxl-only" not in sys.argv:
        make(SD2_CN, SD2, sd2_parts, False)
        make_mismatched()
    if "--sd2-only" not in sys.argv:
        make(SDXL_CN, SDXL, sdxl_parts, True)


if __name__ == "__main__":
    main()
