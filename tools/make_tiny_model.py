#!/usr/bin/env python3
"""Build tests/fixtures/tiny-sd2: a tiny, randomly initialised Stable Diffusion 2
pipeline with the real SD2 architecture, exported to ONNX with optimum exactly as
users export their models (optimum.exporters.onnx.main_export, task text-to-image).

Run from the repository root:

    /work/venv/bin/python tools/make_tiny_model.py

Everything is deterministic (fixed torch seed, CPU, no network). The tokenizer
vocabulary is derived from open-clip-torch's bundled BPE file exactly as CLIP's
SimpleTokenizer does it, so the ids are the real CLIP ids.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "tiny-sd2"
SEED = 20240601

# Weight scaling applied after random init (see scale_weights()).
# Chosen so the decoded image has spatial structure and reacts to prompt, seed
# and guidance; the numbers are measured and printed by measure().
UNET_ATTN_OUT_GAIN = 4.0
UNET_CONV_OUT_GAIN = 1.0
VAE_DEC_CONV_OUT_GAIN = 1.0
VAE_POST_QUANT_GAIN = 1.0

# (32, 32, 64) also works but makes unet/model.onnx ~3.9 MB instead of ~1 MB; the
# text encoder's 49408x32 token embedding (6.3 MB) is already most of the budget.
UNET_BLOCK_OUT_CHANNELS = (16, 16, 32)

PROMPT_A = "a photo of an astronaut riding a horse on mars"
PROMPT_B = "a red cube on a wooden table"


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------
def bytes_to_unicode():
    """Same table as CLIP's SimpleTokenizer / GPT-2."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def write_clip_vocab(dst: Path) -> tuple[Path, Path]:
    import open_clip

    bpe_path = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges_lines = lines[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges_lines]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        vocab.append("".join(m))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    assert len(vocab) == 49408, len(vocab)
    encoder = {tok: i for i, tok in enumerate(vocab)}
    assert len(encoder) == 49408
    dst.mkdir(parents=True, exist_ok=True)
    vocab_file = dst / "vocab.json"
    merges_file = dst / "merges.txt"
    vocab_file.write_text(json.dumps(encoder, ensure_ascii=False), encoding="utf-8")
    with open(merges_file, "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write(" ".join(m) + "\n")
    return vocab_file, merges_file


def build_tokenizer(workdir: Path):
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    vocab_file, merges_file = write_clip_vocab(workdir / "bpe")
    tok = CLIPTokenizer(str(vocab_file), str(merges_file), pad_token="!", model_max_length=77)
    assert tok.pad_token_id == 0, tok.pad_token_id
    assert tok.bos_token_id == 49406 and tok.eos_token_id == 49407
    assert tok.fix_text is not None, "ftfy must be installed"

    # Cross-check slow vs fast on a plain prompt.
    tmp = workdir / "tok_check"
    tok.save_pretrained(tmp)
    fast = CLIPTokenizerFast.from_pretrained(tmp)
    text = "a photo of an astronaut riding a horse"
    a = tok(text, padding="max_length", max_length=77, truncation=True).input_ids
    b = fast(text, padding="max_length", max_length=77, truncation=True).input_ids
    assert a == b, (a, b)
    print("tokenizer ids:", a[:12], "... len", len(a))
    return tok


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def build_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        hidden_act="gelu",
        projection_dim=32,
        pad_token_id=1,
        bos_token_id=49406,
        eos_token_id=49407,
    )
    return CLIPTextModel(cfg).eval()


def build_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=UNET_BLOCK_OUT_CHANNELS,
        layers_per_block=1,
        attention_head_dim=(2, 4, 8),
        norm_num_groups=8,
        cross_attention_dim=32,
        use_linear_projection=True,
    ).eval()


def build_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=(8, 8, 16, 16),
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
        sample_size=64,
        scaling_factor=0.18215,
    ).eval()


def build_scheduler():
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
        prediction_type="epsilon",
        timestep_spacing="leading",
    )


@torch.no_grad()
def scale_weights(unet, vae):
    """Random init of tiny models tends to produce a flat grey image that barely
    depends on prompt or seed. Boost a few weights so the fixture is useful."""
    for name, mod in unet.named_modules():
        if name.endswith("attn2.to_out.0"):
            mod.weight.mul_(UNET_ATTN_OUT_GAIN)
    unet.conv_out.weight.mul_(UNET_CONV_OUT_GAIN)
    unet.conv_out.bias.mul_(UNET_CONV_OUT_GAIN)
    vae.decoder.conv_out.weight.mul_(VAE_DEC_CONV_OUT_GAIN)
    vae.post_quant_conv.weight.mul_(VAE_POST_QUANT_GAIN)


def build_pipeline(workdir: Path):
    from diffusers import StableDiffusionPipeline

    torch.manual_seed(SEED)
    tok = build_tokenizer(workdir)
    text_encoder = build_text_encoder()
    unet = build_unet()
    vae = build_vae()
    scale_weights(unet, vae)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tok,
        unet=unet,
        scheduler=build_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


# --------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------
def run(pipe, prompt, seed, guidance=7.5, steps=10, w=64, h=64, neg=None):
    lat = np.random.RandomState(seed).randn(1, 4, h // 8, w // 8).astype(np.float32)
    img = pipe(
        prompt,
        negative_prompt=neg,
        width=w,
        height=h,
        num_inference_steps=steps,
        guidance_scale=guidance,
        latents=torch.from_numpy(lat),
        output_type="np",
    ).images
    return (np.clip(img, 0, 1) * 255).round().astype(np.float64)[0]


def measure(pipe, label):
    a = run(pipe, PROMPT_A, 42)
    stats = {
        "pixel_std": float(a.std()),
        "per_channel_spatial_std": [float(a[..., c].std()) for c in range(3)],
        "mean": float(a.mean()),
        "frac_saturated": float(((a == 0) | (a == 255)).mean()),
        "seed_diff": float(np.abs(a - run(pipe, PROMPT_A, 43)).mean()),
        "prompt_diff": float(np.abs(a - run(pipe, PROMPT_B, 42)).mean()),
        "guidance_7.5_vs_7.4": float(np.abs(a - run(pipe, PROMPT_A, 42, guidance=7.4)).mean()),
    }
    print(f"[{label}] image stats (0..255 units):")
    for k, v in stats.items():
        print(f"    {k}: {v}")
    return stats


# --------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------
def inline_external_data(out: Path):
    import onnx

    for p in sorted(out.rglob("*.onnx")):
        extras = [q for q in p.parent.iterdir() if q.name != p.name and q.name.startswith("model.onnx")]
        if not extras:
            continue
        m = onnx.load(str(p), load_external_data=True)
        onnx.save_model(m, str(p), save_as_external_data=False)
        for q in extras:
            q.unlink()
        print("inlined external data into", p.relative_to(REPO))


def normalize_configs(out: Path):
    """Replace the temporary-directory `_name_or_path` so reruns are byte-identical."""
    for p in sorted(out.rglob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(d, dict) and "_name_or_path" in d:
            rel = p.parent.relative_to(out).as_posix()
            d["_name_or_path"] = "tiny-sd2" if rel == "." else f"tiny-sd2/{rel}"
            p.write_text(json.dumps(d, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def describe_onnx(out: Path):
    import onnx

    def fmt(vi):
        t = vi.type.tensor_type
        dt = onnx.TensorProto.DataType.Name(t.elem_type)
        dims = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
        return f"{vi.name}: {dt} {dims}"

    info = {}
    for p in sorted(out.rglob("model.onnx")):
        m = onnx.load(str(p), load_external_data=False)
        name = p.parent.name
        ins = [fmt(i) for i in m.graph.input]
        outs = [fmt(o) for o in m.graph.output]
        opset = [f"{o.domain or 'ai.onnx'}:{o.version}" for o in m.opset_import]
        info[name] = {"inputs": ins, "outputs": outs, "opset": opset}
        print(f"{name}/model.onnx ({p.stat().st_size} bytes) opset {opset}")
        for s in ins:
            print("    in ", s)
        for s in outs:
            print("    out", s)
    return info


def main():
    if "--v-copy-only" in sys.argv:
        make_v_copy()
        return
    if "--legacy-copy-only" in sys.argv:
        externalize(OUT)
        make_legacy_copy()
        return
    experiment = "--experiment" in sys.argv
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        pipe = build_pipeline(td)
        torch_stats = measure(pipe, "torch")
        if experiment:
            return
        src = td / "pipeline"
        pipe.save_pretrained(src, safe_serialization=True)
        tok_dir = src / "tokenizer"
        print("saved tokenizer files:", sorted(q.name for q in tok_dir.iterdir()))

        from optimum.exporters.onnx import main_export

        if OUT.exists():
            shutil.rmtree(OUT)
        main_export(str(src), output=str(OUT), task="text-to-image", device="cpu")

    # Tidy: the Rust runtime must exercise the vocab/merges path.
    tj = OUT / "tokenizer" / "tokenizer.json"
    if tj.exists():
        tj.unlink()
        print("removed tokenizer/tokenizer.json")
    inline_external_data(OUT)
    externalize(OUT)
    normalize_configs(OUT)
    for p in sorted(OUT.rglob("*")):
        if p.is_file() and p.suffix in (".bin", ".safetensors", ".msgpack"):
            p.unlink()
            print("removed", p.relative_to(REPO))

    info = describe_onnx(OUT)

    from optimum.onnxruntime import ORTStableDiffusionPipeline

    ort_pipe = ORTStableDiffusionPipeline.from_pretrained(str(OUT), provider="CPUExecutionProvider")
    ort_pipe.set_progress_bar_config(disable=True)
    ort_stats = measure(ort_pipe, "onnx")

    import diffusers
    import onnx
    import onnxruntime
    import optimum.version
    import transformers

    versions = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "optimum": optimum.version.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    write_readme(info, torch_stats, ort_stats, versions)
    make_v_copy()
    make_legacy_copy()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixture total: {total} bytes")
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(f"    {p.stat().st_size:>10}  {p.relative_to(REPO)}")


def write_readme(info, torch_stats, ort_stats, versions):
    lines = [
        "# tiny-sd2 test fixture",
        "",
        "A tiny Stable Diffusion 2 pipeline with the real SD2 architecture and **random weights**,",
        "exported to ONNX with optimum exactly like user models are. Not a useful image generator;",
        "it exists so tests can run the whole pipeline in well under a second per image.",
        "",
        "Generated by (from the repository root, with the venv from `tools/requirements.txt`):",
        "",
        "    python tools/make_tiny_model.py",
        "",
        "The script is deterministic (torch seed %d, CPU). Do not edit these files by hand;" % SEED,
        "regenerate them and then regenerate the goldens with `python tools/make_goldens.py`.",
        "",
        "## Components",
        "",
        "- tokenizer: CLIP BPE (vocab.json + merges.txt) derived from open-clip-torch's",
        "  `bpe_simple_vocab_16e6.txt.gz` as CLIP's SimpleTokenizer does; 49408 tokens, pad `!` (id 0),",
        "  model_max_length 77. No tokenizer.json on purpose (exercises the vocab/merges path).",
        "- text_encoder: CLIPTextModel, hidden 32, 2 layers, 4 heads, gelu.",
        "- unet: UNet2DConditionModel, SD2 block types, use_linear_projection, cross-attention dim 32,",
        "  block_out_channels %s, attention_head_dim (2, 4, 8), norm groups 8, layers_per_block 1," % (UNET_BLOCK_OUT_CHANNELS,),
        "  sample_size 8 (64x64 native).",
        "- vae: AutoencoderKL, 4 blocks (8x downscale), block_out_channels (8, 8, 16, 16), latent channels 4,",
        "  scaling_factor 0.18215.",
        "- scheduler: PNDMScheduler with SD2-base config (scaled_linear 0.00085..0.012, skip_prk_steps,",
        "  steps_offset 1, leading spacing, epsilon).",
        "",
        "Weight gains applied after random init: unet attn2.to_out x%g, unet conv_out x%g,"
        % (UNET_ATTN_OUT_GAIN, UNET_CONV_OUT_GAIN),
        "vae decoder conv_out x%g, vae post_quant_conv x%g." % (VAE_DEC_CONV_OUT_GAIN, VAE_POST_QUANT_GAIN),
        "",
        "## Image statistics (prompt %r, seed 42, 10 steps, guidance 7.5, 0..255 units)" % PROMPT_A,
        "",
        "| stat | torch | onnx (ORTStableDiffusionPipeline, CPU) |",
        "|---|---|---|",
    ]
    for k in torch_stats:
        lines.append(f"| {k} | {fmt_stat(torch_stats[k])} | {fmt_stat(ort_stats[k])} |")
    lines += ["", "## ONNX models", ""]
    for name, d in info.items():
        lines.append(f"### {name}/model.onnx (opset {', '.join(d['opset'])})")
        lines.append("")
        for s in d["inputs"]:
            lines.append(f"- input  `{s}`")
        for s in d["outputs"]:
            lines.append(f"- output `{s}`")
        lines.append("")
    lines += ["## Versions", ""]
    for k, v in versions.items():
        lines.append(f"- {k} {v}")
    lines.append("")
    (OUT / "README.md").write_text("\n".join(lines), encoding="utf-8")


V_OUT = OUT.parent / "tiny-sd2-v"

# What stabilityai/stable-diffusion-2-1 (768, v-prediction) ships as scheduler_config.json.
SD21_V_SCHEDULER = {
    "_class_name": "DDIMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}


def make_v_copy():
    """tests/fixtures/tiny-sd2-v: the same graphs (symbolic links, no copies) with the
    scheduler config of SD 2.1-768: DDIM, v_prediction."""
    if V_OUT.exists():
        shutil.rmtree(V_OUT)
    V_OUT.mkdir(parents=True)
    for part in ["text_encoder", "unet", "vae_decoder", "vae_encoder", "tokenizer"]:
        (V_OUT / part).symlink_to(Path("..") / OUT.name / part)
    index = json.loads((OUT / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "DDIMScheduler"]
    (V_OUT / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    (V_OUT / "scheduler").mkdir()
    (V_OUT / "scheduler" / "scheduler_config.json").write_text(
        json.dumps(SD21_V_SCHEDULER, indent=2) + "\n")
    (V_OUT / "README.md").write_text(
        "# tiny-sd2-v\n\nThe tiny-sd2 graphs (symbolic links) with Stable Diffusion 2.1-768's\n"
        "scheduler config: DDIMScheduler, `prediction_type: v_prediction`. The weights were not\n"
        "trained for v-prediction (they are random); the fixture exercises the arithmetic.\n"
        "Made by `python tools/make_tiny_model.py` (or `--v-copy-only`).\n")
    print("wrote", V_OUT.relative_to(REPO))


EXTERNAL_PARTS = ["text_encoder"]
LEGACY_OUT = OUT.parent / "tiny-sd2-legacy"


def externalize(out: Path):
    """Stores the text encoder's weights in `model.onnx_data` next to `model.onnx`, as optimum
    writes real models' large graphs, so the tests load external data too; the graph is
    unchanged."""
    import onnx

    for part in EXTERNAL_PARTS:
        p = out / part / "model.onnx"
        if (p.parent / "model.onnx_data").exists():
            continue
        m = onnx.load(str(p), load_external_data=True)
        onnx.save_model(m, str(p), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx_data", size_threshold=1024)
        print("external data for", p.relative_to(REPO))


def make_legacy_copy():
    """tests/fixtures/tiny-sd2-legacy: the tiny-sd2 weights behind the input/output types of
    older or converted exports, which sdrt must read from the ONNX metadata:
    - unet: 1-D int64 `timestep` of shape [1] (older exports; Cast + Squeeze in front),
    - vae_decoder: float16 throughout, inputs and outputs included (onnxruntime's float16
      converter).
    The other parts are symbolic links to tiny-sd2's (ONNX Runtime refuses external data
    reached through a link, so a retyped text encoder would need its own 6 MB copy)."""
    import onnx
    from onnx import TensorProto, helper
    from onnxruntime.transformers.float16 import convert_float_to_float16

    if LEGACY_OUT.exists():
        shutil.rmtree(LEGACY_OUT)
    LEGACY_OUT.mkdir(parents=True)
    for part in ["tokenizer", "scheduler", "vae_encoder", "text_encoder"]:
        (LEGACY_OUT / part).symlink_to(Path("..") / OUT.name / part)
    shutil.copy(OUT / "model_index.json", LEGACY_OUT / "model_index.json")

    def retype_input(part, name, new_type, new_shape, nodes, inits=()):
        src = OUT / part
        dst = LEGACY_OUT / part
        dst.mkdir()
        shutil.copy(src / "config.json", dst / "config.json")
        m = onnx.load(str(src / "model.onnx"))
        g = m.graph
        inp = next(i for i in g.input if i.name == name)
        inner = name + "_sdrt_legacy"
        for n in g.node:
            n.input[:] = [inner if x == name else x for x in n.input]
        new_inp = helper.make_tensor_value_info(name, new_type, new_shape)
        idx = list(g.input).index(inp)
        g.input.remove(inp)
        g.input.insert(idx, new_inp)
        for init in inits:
            g.initializer.append(init)
        for n in reversed(nodes(inner)):
            g.node.insert(0, n)
        onnx.save_model(m, str(dst / "model.onnx"))
        onnx.checker.check_model(m)

    retype_input(
        "unet", "timestep", TensorProto.INT64, [1],
        lambda inner: [
            helper.make_node("Cast", ["timestep"], ["timestep_sdrt_float"], to=TensorProto.FLOAT),
            helper.make_node("Squeeze", ["timestep_sdrt_float", "timestep_sdrt_axes"], [inner]),
        ],
        inits=[helper.make_tensor("timestep_sdrt_axes", TensorProto.INT64, [1], [0])],
    )
    vae = LEGACY_OUT / "vae_decoder"
    vae.mkdir()
    shutil.copy(OUT / "vae_decoder" / "config.json", vae / "config.json")
    m = onnx.load(str(OUT / "vae_decoder" / "model.onnx"))
    m16 = convert_float_to_float16(m, keep_io_types=False)
    onnx.save_model(m16, str(vae / "model.onnx"))
    (LEGACY_OUT / "README.md").write_text(
        "# tiny-sd2-legacy\n\n"
        "The tiny-sd2 weights behind input/output types of older or converted exports, which\n"
        "sdrt must read from the ONNX metadata:\n\n"
        "- unet: 1-D int64 `timestep` of shape [1] (older exports; Cast + Squeeze in front);\n"
        "- vae_decoder: float16 throughout, inputs and outputs included.\n\n"
        "The other parts are symbolic links to tiny-sd2's. Made by\n"
        "`python tools/make_tiny_model.py` (or `--legacy-copy-only`).\n")
    print("wrote", LEGACY_OUT.relative_to(REPO))


def fmt_stat(v):
    if isinstance(v, list):
        return ", ".join(f"{x:.3f}" for x in v)
    return f"{v:.4f}"


if __name__ == "__main__":
    main()
