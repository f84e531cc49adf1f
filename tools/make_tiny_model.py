#!/usr/bin/env python3
"""Build tests/fixtures/tiny-sd2: a tiny, randomly initialised Stable Diffusion 2
pipeline with the real SD2 architecture, exported to ONNX with optimum exactly as
users export their models (optimum.exporters.onnx.main_export, task text-to-image).

Run from the repository root:

    /work/venv/bin/python tools/make_tiny_model.py

It also builds the fixtures that add to tiny-sd2 through symbolic links to its parts
(tests/fixtures/tiny-sd2-v, tiny-sd2-legacy, tiny-sd2-inpaint, tiny-lcm, tiny-sd2-preview). Only
those: `--v-copy-only`, `--legacy-copy-only`, `--edit-fixtures-only` (inpaint + lcm + preview),
`--inpaint-only`, `--lcm-only`, `--preview-only`; none of these touches tiny-sd2 itself.
It also builds tests/fixtures/tiny-sd1-safety (tiny-sd2's parts, links, plus an SD 1.x safety
checker and feature extractor, calibrated on make_goldens.SAFETY_CASES' images): `--safety-only`.

`--full DIR` builds something else, outside git: the real Stable Diffusion 2 base sizes
(OpenCLIP-H text encoder, 23 layers; the 865M-parameter UNet; the full VAE) with random weights,
exported the same way, into DIR (about 5.2 GB). It is the benchmark's subject (tools/bench.sh):
start-up and memory only mean something at real sizes. It takes about 10 minutes and 16 GB of
memory on a 2-core machine. `--full-sdxl DIR` does the same for SDXL base 1.0's architecture
(make_tiny_sdxl.make_full: 13.9 GB of float32; 14 minutes, 22.4 GB resident plus swap).

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


def build_unet(in_channels=4, time_cond_proj_dim=None):
    """tiny-sd2's UNet; `in_channels=9` is the SD inpainting layout, `time_cond_proj_dim` the
    LCM guidance embedding input (`timestep_cond`)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8,
        in_channels=in_channels,
        time_cond_proj_dim=time_cond_proj_dim,
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
    scale_unet_weights(unet)
    vae.decoder.conv_out.weight.mul_(VAE_DEC_CONV_OUT_GAIN)
    vae.post_quant_conv.weight.mul_(VAE_POST_QUANT_GAIN)


@torch.no_grad()
def scale_unet_weights(unet):
    """The UNet part of scale_weights() (the same gains for every fixture's UNet)."""
    for name, mod in unet.named_modules():
        if name.endswith("attn2.to_out.0"):
            mod.weight.mul_(UNET_ATTN_OUT_GAIN)
    unet.conv_out.weight.mul_(UNET_CONV_OUT_GAIN)
    unet.conv_out.bias.mul_(UNET_CONV_OUT_GAIN)


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


@torch.no_grad()
def make_full(dst: Path):
    """The benchmark model: stabilityai/stable-diffusion-2-base's component configurations
    (as its config.json files state them) with torch's default random initialisation."""
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from optimum.exporters.onnx import main_export
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        tok = build_tokenizer(td)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
            num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu",
            projection_dim=512, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            torch_dtype="float32")).eval()
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
            attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024,
            use_linear_projection=True, norm_num_groups=32).eval()
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=(128, 256, 512, 512),
            latent_channels=4, norm_num_groups=32, layers_per_block=2, sample_size=768,
            scaling_factor=0.18215).eval()
        n = {k: sum(p.numel() for p in m.parameters())
             for k, m in [("text_encoder", text_encoder), ("unet", unet), ("vae", vae)]}
        print("parameters:", n)
        pipe = StableDiffusionPipeline(
            vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet,
            scheduler=build_scheduler(), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
        src = td / "pipeline"
        pipe.save_pretrained(src, safe_serialization=True)
        del pipe, text_encoder, unet, vae
        if dst.exists():
            shutil.rmtree(dst)
        main_export(str(src), output=str(dst), task="text-to-image", device="cpu",
                    do_validation=False)
    for p in sorted(dst.rglob("*")):
        if p.is_file() and p.suffix in (".bin", ".safetensors", ".msgpack"):
            p.unlink()
    total = 0
    for p in sorted(dst.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"    {p.stat().st_size:>12}  {p.relative_to(dst)}")
    print(f"full-size model: {total} bytes in {dst}")


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


def normalize_configs(out: Path, name: str = "tiny-sd2"):
    """Replace the temporary-directory `_name_or_path` so reruns are byte-identical."""
    for p in sorted(out.rglob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(d, dict) and "_name_or_path" in d:
            rel = p.parent.relative_to(out).as_posix()
            d["_name_or_path"] = name if rel == "." else f"{name}/{rel}"
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
    if "--full-sdxl" in sys.argv:
        i = sys.argv.index("--full-sdxl")
        if i + 1 >= len(sys.argv):
            sys.exit("--full-sdxl needs a folder")
        import make_tiny_sdxl

        make_tiny_sdxl.make_full(Path(sys.argv[i + 1]).resolve())
        return
    if "--full" in sys.argv:
        i = sys.argv.index("--full")
        if i + 1 >= len(sys.argv):
            sys.exit("--full needs a folder")
        make_full(Path(sys.argv[i + 1]))
        return
    if "--edit-fixtures-only" in sys.argv:
        make_edit_fixtures()
        return
    if "--inpaint-only" in sys.argv or "--lcm-only" in sys.argv:
        make_edit_fixtures(inpaint="--inpaint-only" in sys.argv, lcm="--lcm-only" in sys.argv,
                           preview=False)
        return
    if "--preview-only" in sys.argv:
        make_preview_fixture()
        return
    if "--safety-only" in sys.argv:
        make_safety_fixture()
        return
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
    make_edit_fixtures()
    make_safety_fixture()
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


# --------------------------------------------------------------------------
# image-editing / distilled fixtures: tiny-sd2-inpaint, tiny-lcm, tiny-sd2-preview
# --------------------------------------------------------------------------
INPAINT_OUT = OUT.parent / "tiny-sd2-inpaint"
LCM_OUT = OUT.parent / "tiny-lcm"
PREVIEW_OUT = OUT.parent / "tiny-sd2-preview"

# Each new UNet / VAE is drawn from its own fixed seed, after tiny-sd2's parts are rebuilt.
INPAINT_UNET_SEED = SEED + 1
LCM_UNET_SEED = SEED + 2
TAESD_SEED = SEED + 3

# LCM-distilled UNets (LCM Dreamshaper v7, lcm-sdxl) use 256; small here, the graph is the same.
LCM_TIME_COND_PROJ_DIM = 32
# time_embedding.cond_proj (timestep_cond -> time embedding) weight gain, on top of the usual
# UNet gains: with x1 guidance 8.0 vs 7.0 changes the image by ~0.5/255 on average, with x16 by ~4.
LCM_COND_PROJ_GAIN = 16.0

# LCMScheduler's own defaults (which are SD's betas: scaled_linear 0.00085..0.012, 1000 train
# steps), original_inference_steps 50, set_alpha_to_one, timestep_scaling 10, leading, with
# steps_offset 1 as SD configs (and LCM Dreamshaper v7) ship it. LCMScheduler.set_timesteps
# reads neither steps_offset nor timestep_spacing.
LCM_SCHEDULER = {"steps_offset": 1}

# Tiny AutoEncoder (TAESD) decoder: the real block structure (num_decoder_blocks (3, 3, 3, 1),
# three 2x nearest upsamplings = 8x, relu, tanh(x / 3) * 3 latent clamp) with 8 channels
# instead of 64.
TAESD_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    encoder_block_out_channels=(8, 8, 8, 8),
    decoder_block_out_channels=(8, 8, 8, 8),
    num_encoder_blocks=(1, 1, 1, 1),
    num_decoder_blocks=(3, 3, 3, 1),
    act_fn="relu",
    upsample_fn="nearest",
    latent_channels=4,
    upsampling_scaling_factor=2,
    latent_magnitude=3,
    latent_shift=0.5,
    scaling_factor=1.0,
    shift_factor=0.0,
)
# Random init gives an almost flat image: the decoder's convolutions (but the last) are scaled
# by this gain, and the last one is then calibrated per output channel so that, on the
# calibration latents RandomState(0).randn(4, 4, 8, 8), the decoder output before `* 2 - 1`
# has mean 0.5 and std TAESD_TARGET_STD.
TAESD_GAIN = 1.4
TAESD_TARGET_STD = 0.2


def link_parts(dst: Path, parts):
    for part in parts:
        (dst / part).symlink_to(Path("..") / OUT.name / part)


def check_same_files(a: Path, b: Path, label: str):
    """Prints whether an exported part equals tiny-sd2's committed one (it is replaced by a link
    to tiny-sd2's either way)."""
    for q in sorted(a.iterdir()):
        if not q.is_file():
            continue
        r = b / q.name
        if not r.exists():
            print(f"    {label}/{q.name}: not in tiny-sd2 (dropped)")
            continue
        if q.suffix == ".json":
            da, db = json.loads(q.read_text()), json.loads(r.read_text())
            for d in (da, db):
                d.pop("_name_or_path", None)
            same = da == db
        elif q.suffix == ".onnx":
            # Same nodes and same initializer values (tiny-sd2's text encoder keeps its weights
            # in model.onnx_data, so the bytes differ).
            import onnx
            from onnx import numpy_helper

            ga, gb = onnx.load(str(q)).graph, onnx.load(str(r)).graph
            ia = {i.name: numpy_helper.to_array(i) for i in ga.initializer}
            ib = {i.name: numpy_helper.to_array(i) for i in gb.initializer}
            same = ([n.SerializeToString() for n in ga.node] == [n.SerializeToString() for n in gb.node]
                    and ia.keys() == ib.keys() and all(np.array_equal(ia[k], ib[k]) for k in ia))
        else:
            same = q.read_bytes() == r.read_bytes()
        print(f"    {label}/{q.name}: {'same as' if same else 'DIFFERS from'} tiny-sd2's")


def export_part(pipe, workdir: Path, task: str, name: str) -> Path:
    """Saves a diffusers pipeline and exports it with optimum's main_export (as users do);
    returns the exported folder."""
    from optimum.exporters.onnx import main_export

    src = workdir / f"{name}-src"
    pipe.save_pretrained(src, safe_serialization=True)
    exported = workdir / f"{name}-onnx"
    main_export(str(src), output=str(exported), task=task, device="cpu")
    inline_external_data(exported)
    return exported


def take_unet(exported: Path, dst: Path, name: str, keep=("unet",), link=()):
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for part in keep:
        (dst / part).mkdir()
        for q in sorted((exported / part).iterdir()):
            if q.name in ("model.onnx", "config.json", "scheduler_config.json"):
                shutil.copy(q, dst / part / q.name)
    shutil.copy(exported / "model_index.json", dst / "model_index.json")
    normalize_configs(dst, name)
    for part in link:
        if (exported / part).is_dir():
            check_same_files(exported / part, OUT / part, part)
    link_parts(dst, link)


def picture(w: int, h: int):
    """A plain deterministic test picture for the checks below (the goldens draw their own)."""
    from PIL import Image

    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rgb = np.stack([x / max(w - 1, 1), y / max(h - 1, 1), ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 4) ** 2) * 1.0], -1)
    return Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")


def mask_picture(w: int, h: int):
    from PIL import Image

    m = np.zeros((h, w), np.uint8)
    m[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 255
    return Image.fromarray(m, "L")


def img_u8(images):
    return (np.asarray(images) * 255).round().astype(np.float64)


def make_inpaint_fixture(pipe, workdir: Path):
    """tests/fixtures/tiny-sd2-inpaint: an SD 2 inpainting layout, a 9-channel UNet (latents,
    mask, masked-image latents) next to tiny-sd2's text encoder, VAE, tokenizer, scheduler."""
    from diffusers import StableDiffusionInpaintPipeline
    from optimum.onnxruntime import ORTStableDiffusionInpaintPipeline

    torch.manual_seed(INPAINT_UNET_SEED)
    unet = build_unet(in_channels=9)
    scale_unet_weights(unet)
    tpipe = StableDiffusionInpaintPipeline(
        vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=unet,
        scheduler=pipe.scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    tpipe.set_progress_bar_config(disable=True)
    exported = export_part(tpipe, workdir, "inpainting", "inpaint")
    take_unet(exported, INPAINT_OUT, INPAINT_OUT.name,
              link=["text_encoder", "vae_encoder", "vae_decoder", "tokenizer", "scheduler"])
    info = describe_onnx(INPAINT_OUT / "unet")

    ort = ORTStableDiffusionInpaintPipeline.from_pretrained(str(INPAINT_OUT), provider="CPUExecutionProvider")
    ort.set_progress_bar_config(disable=True)
    assert ort.unet.config.in_channels == 9
    image, mask = picture(64, 64), mask_picture(64, 64)

    def go(p, seed, strength=1.0, prompt=PROMPT_A, g=7.5):
        return img_u8(p(prompt, image=image, mask_image=mask, width=64, height=64,
                        num_inference_steps=6, guidance_scale=g, strength=strength,
                        generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images)[0]

    a_t, a_o = go(tpipe, 42), go(ort, 42)
    m = np.asarray(mask) >= 128
    stats = {
        "pixel_std": float(a_o.std()),
        "mean": float(a_o.mean()),
        "torch_vs_onnx_max_abs": float(np.abs(a_t - a_o).max()),
        "seed_diff": float(np.abs(a_o - go(ort, 43)).mean()),
        "prompt_diff": float(np.abs(a_o - go(ort, 42, prompt=PROMPT_B)).mean()),
        "strength_0.75_diff": float(np.abs(a_o - go(ort, 42, strength=0.75)).mean()),
        "mean_abs_diff_to_input_inside_mask": float(np.abs(a_o - np.asarray(image))[m].mean()),
        "mean_abs_diff_to_input_outside_mask": float(np.abs(a_o - np.asarray(image))[~m].mean()),
    }
    print("[inpaint] stats:", json.dumps(stats))
    write_edit_readme(INPAINT_OUT, "tiny-sd2-inpaint", [
        "The Stable Diffusion 2 **inpainting** layout (as stabilityai/stable-diffusion-2-inpainting):",
        "a UNet with `in_channels: 9` — the 4 noisy latents, then the 1-channel mask, then the 4",
        "masked-image latents, concatenated on the channel axis — with **random weights** (torch",
        "seed %d; tiny-sd2's UNet architecture and weight gains otherwise), exported by optimum's" % INPAINT_UNET_SEED,
        "`main_export(..., task=\"inpainting\")` from a diffusers `StableDiffusionInpaintPipeline`",
        "whose other parts are tiny-sd2's (rebuilt with its seed %d)." % SEED,
        "",
        "Only `unet/` (model.onnx + config.json) and `model_index.json` are real files;",
        "`text_encoder`, `vae_encoder`, `vae_decoder`, `tokenizer` and `scheduler` (PNDM) are",
        "symbolic links to tiny-sd2's, so those parts are byte-identical.",
        "Loads with optimum's `ORTStableDiffusionInpaintPipeline`.",
    ], info, stats, "picture 64x64, centre-rectangle mask, prompt %r, seed 42, 6 steps, guidance 7.5, "
       "strength 1.0, torch generator; 0..255 units" % PROMPT_A,
       "--inpaint-only")


def make_lcm_fixture(pipe, workdir: Path):
    """tests/fixtures/tiny-lcm: an LCM-distilled-style UNet (guidance embedding input
    `timestep_cond`) with an LCMScheduler, next to tiny-sd2's text encoder, VAE, tokenizer."""
    from diffusers import LatentConsistencyModelPipeline, LCMScheduler
    from optimum.onnxruntime import ORTLatentConsistencyModelPipeline

    torch.manual_seed(LCM_UNET_SEED)
    unet = build_unet(time_cond_proj_dim=LCM_TIME_COND_PROJ_DIM)
    scale_unet_weights(unet)
    with torch.no_grad():
        unet.time_embedding.cond_proj.weight.mul_(LCM_COND_PROJ_GAIN)
    tpipe = LatentConsistencyModelPipeline(
        vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=unet,
        scheduler=LCMScheduler(**LCM_SCHEDULER), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    tpipe.set_progress_bar_config(disable=True)
    exported = export_part(tpipe, workdir, "text-to-image", "lcm")
    take_unet(exported, LCM_OUT, LCM_OUT.name, keep=("unet", "scheduler"),
              link=["text_encoder", "vae_encoder", "vae_decoder", "tokenizer"])
    info = describe_onnx(LCM_OUT / "unet")

    ort = ORTLatentConsistencyModelPipeline.from_pretrained(str(LCM_OUT), provider="CPUExecutionProvider")
    ort.set_progress_bar_config(disable=True)
    assert type(ort.scheduler).__name__ == "LCMScheduler", type(ort.scheduler)

    def go(p, seed, steps=4, g=8.0, prompt=PROMPT_A):
        return img_u8(p(prompt, width=64, height=64, num_inference_steps=steps, guidance_scale=g,
                        generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images)[0]

    a_t, a_o = go(tpipe, 42), go(ort, 42)
    stats = {
        "pixel_std": float(a_o.std()),
        "mean": float(a_o.mean()),
        "frac_saturated": float(((a_o == 0) | (a_o == 255)).mean()),
        "torch_vs_onnx_max_abs": float(np.abs(a_t - a_o).max()),
        "seed_diff": float(np.abs(a_o - go(ort, 43)).mean()),
        "prompt_diff": float(np.abs(a_o - go(ort, 42, prompt=PROMPT_B)).mean()),
        "guidance_8_vs_1.5": float(np.abs(a_o - go(ort, 42, g=1.5)).mean()),
        "guidance_8_vs_7": float(np.abs(a_o - go(ort, 42, g=7.0)).mean()),
        "steps_4_vs_1": float(np.abs(a_o - go(ort, 42, steps=1)).mean()),
    }
    print("[lcm] stats:", json.dumps(stats))
    sched = LCMScheduler.from_pretrained(str(LCM_OUT / "scheduler"))
    ts = {}
    for n in (1, 2, 4, 8):
        sched.set_timesteps(n)
        ts[n] = [int(t) for t in sched.timesteps]
    write_edit_readme(LCM_OUT, "tiny-lcm", [
        "A latent-consistency-distilled-style model (the layout of LCM Dreamshaper v7): tiny-sd2's",
        "UNet architecture with `time_cond_proj_dim: %d` (real LCM UNets: 256), so the ONNX UNet has" % LCM_TIME_COND_PROJ_DIM,
        "a `timestep_cond` input (the guidance-scale embedding), **random weights** (torch seed %d," % LCM_UNET_SEED,
        "tiny-sd2's weight gains, and `time_embedding.cond_proj` x%g so the guidance embedding" % LCM_COND_PROJ_GAIN,
        "visibly changes the image), exported by optimum's `main_export(..., task=\"text-to-image\")`",
        "from a diffusers `LatentConsistencyModelPipeline` whose other parts are tiny-sd2's.",
        "",
        "scheduler: `LCMScheduler` with its defaults (scaled_linear 0.00085..0.012, 1000 train steps,",
        "original_inference_steps 50, set_alpha_to_one true, timestep_scaling 10, epsilon, leading)",
        "and steps_offset 1 (LCMScheduler.set_timesteps reads neither steps_offset nor",
        "timestep_spacing). Timesteps: " + "; ".join(f"{n} steps {v}" for n, v in ts.items()) + ".",
        "",
        "`unet/`, `scheduler/` and `model_index.json` are real files; `text_encoder`, `vae_encoder`,",
        "`vae_decoder` and `tokenizer` are symbolic links to tiny-sd2's.",
        "Loads and runs with optimum's `ORTLatentConsistencyModelPipeline`.",
    ], info, stats, "prompt %r, seed 42, 4 steps, guidance 8.0, torch generator; 0..255 units" % PROMPT_A,
       "--lcm-only")


def build_taesd(seed=TAESD_SEED):
    """A random-weight TAESD (TAESDXL has the same config), its convolutions but the last
    scaled by TAESD_GAIN and the last calibrated so the output before `* 2 - 1` has mean 0.5
    and std TAESD_TARGET_STD on RandomState(0) latents."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    vae = AutoencoderTiny(**TAESD_CONFIG).eval()
    layers = vae.decoder.layers
    last = layers[-1]
    with torch.no_grad():
        for mod in layers.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod is not last:
                mod.weight.mul_(TAESD_GAIN)
        cal = torch.from_numpy(np.random.RandomState(0).randn(4, 4, 8, 8).astype(np.float32))
        y = last(layers[:-1](torch.tanh(cal / 3) * 3))
        mean, std = y.mean(dim=(0, 2, 3)), y.std(dim=(0, 2, 3))
        s = TAESD_TARGET_STD / std
        last.weight.mul_(s[:, None, None, None])
        last.bias.copy_(last.bias * s + (0.5 - mean * s))
    return vae


class TaesdDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample).sample


def export_taesd(vae, dst: Path) -> Path:
    """dst/model.onnx: the TAESD decoder in the form sdrt's `vae_preview` takes (inputs
    `latent_sample`, output `sample`, free batch and size), weights inline."""
    import onnx

    dummy = torch.from_numpy(np.random.RandomState(0).randn(1, 4, 8, 8).astype(np.float32))
    onnx_path = dst / "model.onnx"
    torch.onnx.export(
        TaesdDecoder(vae), (dummy,), str(onnx_path),
        input_names=["latent_sample"], output_names=["sample"],
        dynamic_axes={"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
                      "sample": {0: "batch_size", 2: "latent_height * 8", 3: "latent_width * 8"}},
        do_constant_folding=True, opset_version=18, dynamo=False)
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    inline_external_data(dst)
    return onnx_path


def make_preview_fixture():
    """tests/fixtures/tiny-sd2-preview: tiny-sd2 (links) plus a Tiny AutoEncoder (TAESD) decoder
    in vae_preview/, for cheap previews of the UNet-space latents."""
    import onnxruntime

    vae = build_taesd()
    if PREVIEW_OUT.exists():
        shutil.rmtree(PREVIEW_OUT)
    PREVIEW_OUT.mkdir(parents=True)
    link_parts(PREVIEW_OUT, ["text_encoder", "unet", "vae_decoder", "vae_encoder", "tokenizer", "scheduler"])
    shutil.copy(OUT / "model_index.json", PREVIEW_OUT / "model_index.json")
    dst = PREVIEW_OUT / "vae_preview"
    dst.mkdir()
    vae.save_config(dst)
    onnx_path = export_taesd(vae, dst)
    info = describe_onnx(dst)

    sess = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diffs = {}
    for seed, shape in [(5, (1, 4, 8, 8)), (6, (2, 4, 8, 12)), (7, (1, 4, 12, 8))]:
        lat = np.random.RandomState(seed).randn(*shape).astype(np.float32)
        with torch.no_grad():
            ref = vae.decode(torch.from_numpy(lat)).sample.numpy()
        got = sess.run(None, {"latent_sample": lat})[0]
        assert got.shape == ref.shape == (shape[0], 3, shape[2] * 8, shape[3] * 8), got.shape
        diffs[f"seed {seed} {list(shape)}"] = float(np.abs(got - ref).max())
    a = img_u8(np.clip(vae.decode(torch.from_numpy(
        np.random.RandomState(5).randn(1, 4, 8, 8).astype(np.float32))).sample.detach().numpy()[0] / 2 + 0.5, 0, 1))
    b = img_u8(np.clip(vae.decode(torch.from_numpy(
        np.random.RandomState(6).randn(1, 4, 8, 8).astype(np.float32))).sample.detach().numpy()[0] / 2 + 0.5, 0, 1))
    stats = {
        "pixel_std": float(a.std()),
        "per_channel_spatial_std": [float(a[c].std()) for c in range(3)],
        "mean": float(a.mean()),
        "frac_saturated": float(((a == 0) | (a == 255)).mean()),
        "seed_diff": float(np.abs(a - b).mean()),
    }
    for k, v in diffs.items():
        stats[f"torch_vs_onnx_max_abs ({k})"] = v
    print("[preview] stats:", json.dumps(stats))
    write_edit_readme(PREVIEW_OUT, "tiny-sd2-preview", [
        "tiny-sd2 (every part, the scheduler and tokenizer included, is a symbolic link to",
        "tiny-sd2's; `model_index.json` is a copy) plus `vae_preview/`: a **Tiny AutoEncoder**",
        "(TAESD, diffusers `AutoencoderTiny`) decoder with **random weights** (torch seed %d)," % TAESD_SEED,
        "exported with `torch.onnx.export` (TorchScript exporter, opset 18, as optimum does) of",
        "`AutoencoderTiny.decode(latent_sample).sample`.",
        "",
        "Config (vae_preview/config.json): latent_channels 4, decoder_block_out_channels",
        "%s, num_decoder_blocks %s (the real TAESD: 64 channels, same blocks), relu," % (TAESD_CONFIG["decoder_block_out_channels"], TAESD_CONFIG["num_decoder_blocks"]),
        "nearest 2x upsampling three times (8x, like SD's VAE), scaling_factor 1.0.",
        "Weights: the decoder's convolutions but the last scaled by %g; the last one calibrated" % TAESD_GAIN,
        "per channel so that on `RandomState(0).randn(4, 4, 8, 8)` the output before `* 2 - 1` has",
        "mean 0.5 and std %g." % TAESD_TARGET_STD,
        "",
        "Input: the UNet-space latents **as they are** (TAESD's scaling_factor is 1.0, so a diffusers",
        "pipeline's `latents / vae.config.scaling_factor` leaves them unchanged; they are NOT divided",
        "by the SD VAE's 0.18215). Inside: `tanh(x / 3) * 3`, the conv stack, then `* 2 - 1`. The",
        "output is in [-1, 1] like the SD VAE decoder's but is **not clamped** in the graph; convert",
        "to pixels as for the VAE: `clamp(x / 2 + 0.5, 0, 1) * 255`, rounded.",
    ], info, stats, "latents RandomState(5).randn(1, 4, 8, 8) float32 (seed_diff: vs seed 6); 0..255 units",
       "--preview-only")


def write_edit_readme(dst: Path, title: str, intro, info, stats, stats_title, flag):
    lines = [f"# {title}", ""] + list(intro) + [
        "",
        "Generated by (from the repository root, with the venv from `tools/requirements.txt`):",
        "",
        "    python tools/make_tiny_model.py --edit-fixtures-only   # or %s" % flag,
        "",
        "(the full `python tools/make_tiny_model.py` run makes it too). Deterministic (CPU).",
        "",
        f"## Checks ({stats_title})",
        "",
        "| stat | value |",
        "|---|---|",
    ]
    for k, v in stats.items():
        lines.append(f"| {k} | {fmt_stat(v)} |")
    lines += ["", "## ONNX models", ""]
    for name, d in info.items():
        lines.append(f"### {name}/model.onnx (opset {', '.join(d['opset'])})")
        lines.append("")
        for s_ in d["inputs"]:
            lines.append(f"- input  `{s_}`")
        for s_ in d["outputs"]:
            lines.append(f"- output `{s_}`")
        lines.append("")
    import diffusers
    import onnx
    import onnxruntime
    import optimum.version
    import transformers

    lines += ["## Versions", ""]
    for k, v in {"torch": torch.__version__, "diffusers": diffusers.__version__,
                 "transformers": transformers.__version__, "optimum": optimum.version.__version__,
                 "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}.items():
        lines.append(f"- {k} {v}")
    lines.append("")
    (dst / "README.md").write_text("\n".join(lines), encoding="utf-8")
    total = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"wrote {dst.relative_to(REPO)} ({total} bytes in real files)")


def make_edit_fixtures(inpaint=True, lcm=True, preview=True):
    """The fixtures that only add to tiny-sd2 (they link to its committed parts)."""
    if inpaint or lcm:
        with tempfile.TemporaryDirectory() as td:
            td = Path(td)
            pipe = build_pipeline(td)
            check_tiny_sd2_rebuild(pipe)
            if inpaint:
                make_inpaint_fixture(pipe, td)
            if lcm:
                make_lcm_fixture(pipe, td)
    if preview:
        make_preview_fixture()


@torch.no_grad()
def check_tiny_sd2_rebuild(pipe):
    """The rebuilt torch text encoder and VAE decoder must be the committed tiny-sd2 graphs'
    weights (they are what the new fixtures link to)."""
    import onnxruntime

    ids = pipe.tokenizer(PROMPT_A, padding="max_length", max_length=77, return_tensors="np").input_ids
    te = onnxruntime.InferenceSession(str(OUT / "text_encoder" / "model.onnx"), providers=["CPUExecutionProvider"])
    a = te.run(None, {"input_ids": ids.astype(np.int64)})[0]
    b = pipe.text_encoder(torch.from_numpy(ids))[0].numpy()
    lat = np.random.RandomState(0).randn(1, 4, 8, 8).astype(np.float32)
    vd = onnxruntime.InferenceSession(str(OUT / "vae_decoder" / "model.onnx"), providers=["CPUExecutionProvider"])
    c = vd.run(None, {"latent_sample": lat})[0]
    d = pipe.vae.decode(torch.from_numpy(lat)).sample.numpy()
    print(f"rebuilt tiny-sd2 vs committed ONNX: text encoder max |diff| {np.abs(a - b).max():.2e}, "
          f"vae decoder {np.abs(c - d).max():.2e}")
    assert np.abs(a - b).max() < 1e-4 and np.abs(c - d).max() < 1e-4, "rebuild differs from tiny-sd2"


def fmt_stat(v):
    if isinstance(v, list):
        return ", ".join(f"{x:.3f}" for x in v)
    return f"{v:.4f}"


# --------------------------------------------------------------------------
# SD 1.x safety checker: tiny-sd1-safety (`--safety-only`)
# --------------------------------------------------------------------------
SAFETY_OUT = OUT.parent / "tiny-sd1-safety"
SAFETY_SEED = SEED + 4
# A tiny CLIP (the real checker: ViT-L/14, hidden 1024, 24 layers, projection 768). Only the
# vision tower and projection_dim are used; the text config is written to config.json as
# CLIPConfig has one.
SAFETY_CLIP_CONFIG = dict(
    vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                       patch_size=32, image_size=224, num_channels=3, hidden_act="quick_gelu"),
    text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                     vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu"),
    projection_dim=32,
)
# With the random init the image embeddings of all pictures are nearly parallel (mean pairwise
# cosine 0.995 on the goldens); q/k/v/out of the vision tower's attention x4 spreads them
# (mean pairwise cosine ~0.84).
SAFETY_ATTN_GAIN = 4.0
# Calibration (calibrate_safety_checker): scores are cosine - threshold (+ 0.01 adjustment).
SAFETY_UNUSED_MARGIN = 0.05   # unused concepts: threshold = max cosine over the images + this
SAFETY_NEAR = 0.005           # "special" / "near" images: concept score -0.005 (before adjustment)
SAFETY_EXPORT_OPSET = 14      # the default of diffusers' convert_stable_diffusion_checkpoint_to_onnx.py


def build_safety_checker(images=None):
    """diffusers' StableDiffusionSafetyChecker with a tiny random CLIPConfig (torch seed
    SAFETY_SEED), attention gains, and, given the golden images (uint8 [h, w, 3] in
    make_goldens.SAFETY_CASES order), calibrated on them (calibrate_safety_checker)."""
    from transformers import CLIPConfig
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    torch.manual_seed(SAFETY_SEED)
    checker = StableDiffusionSafetyChecker(CLIPConfig(**SAFETY_CLIP_CONFIG)).eval()
    with torch.no_grad():
        for layer in checker.vision_model.vision_model.encoder.layers:
            for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
                        layer.self_attn.out_proj):
                lin.weight.mul_(SAFETY_ATTN_GAIN)
        # The concept embeddings stand for CLIP text embeddings of the concepts: random normal.
        checker.concept_embeds.copy_(torch.randn(17, checker.config.projection_dim))
        checker.special_care_embeds.copy_(torch.randn(3, checker.config.projection_dim))
    if images is not None:
        calibrate_safety_checker(checker, images)
    return checker


def clip_pixel_values(images):
    """pixel_values as the pipeline computes them: the fixture's CLIPImageProcessor on PIL images."""
    from PIL import Image
    from transformers import CLIPImageProcessor

    fe = CLIPImageProcessor.from_pretrained(str(SAFETY_OUT / "feature_extractor"))
    return fe([Image.fromarray(np.asarray(a, np.uint8), "RGB") for a in images], return_tensors="pt").pixel_values


@torch.no_grad()
def safety_cosines(checker, pixel_values):
    """What forward_onnx computes before the thresholds: cosine(image embedding, concept)."""
    from diffusers.pipelines.stable_diffusion.safety_checker import cosine_distance

    emb = checker.visual_projection(checker.vision_model(pixel_values)[1])
    return (cosine_distance(emb, checker.concept_embeds).numpy(),
            cosine_distance(emb, checker.special_care_embeds).numpy(), emb)


def safety_scores(checker, pixel_values):
    """Per image: forward_onnx's largest special-care and concept scores (float32, unrounded)."""
    cos, special, _ = safety_cosines(checker, pixel_values)
    s = special - checker.special_care_embeds_weights.numpy()
    adj = np.any(s > 0, axis=1).astype(np.float32) * np.float32(0.01)
    c = cos - checker.concept_embeds_weights.numpy() + adj[:, None]
    return [{"concept_max": round(float(c[i].max()), 6), "concept_argmax": int(c[i].argmax()),
             "special_max": round(float(s[i].max()), 6), "special_argmax": int(s[i].argmax())}
            for i in range(len(c))]


def unit_solution(x, targets, rng):
    """A unit vector w with x @ w == targets (the rows of x are unit image embeddings, so the
    cosines are then exactly the targets): the minimum-norm solution plus a random component
    orthogonal to the rows, scaled to make |w| = 1. None when the minimum norm exceeds 0.9."""
    w0 = np.linalg.lstsq(x, targets, rcond=None)[0]
    assert np.allclose(x @ w0, targets, atol=1e-9)
    if w0 @ w0 > 0.81:
        return None
    n = rng.standard_normal(x.shape[1])
    n -= x.T @ np.linalg.lstsq(x.T, n, rcond=None)[0]
    n *= np.sqrt(1.0 - w0 @ w0) / np.linalg.norm(n)
    return w0 + n


def best_threshold(x, pattern, offsets):
    """The threshold t minimizing the norm of the minimum-norm w with x @ w = t + pattern + offsets."""
    g = np.linalg.inv(x @ x.T)
    one = np.ones(len(x))
    v = pattern + offsets
    return -float(one @ g @ v) / float(one @ g @ one)


@torch.no_grad()
def calibrate_safety_checker(checker, images):
    """Sets concept 0 and special-care concept 0 (embedding and threshold) so that the images get
    the roles of make_goldens.SAFETY_CASES, with the widest margin |w| <= 0.9 allows, and the
    other 16 concepts / 2 special concepts (random embeddings) a threshold SAFETY_UNUSED_MARGIN
    above their largest cosine over the images."""
    from make_goldens import SAFETY_CASES

    roles = [r for case in SAFETY_CASES for r in case[-1]]
    assert len(roles) == len(images), (len(roles), len(images))
    pv = clip_pixel_values(images)
    _, _, emb = safety_cosines(checker, pv)
    x = torch.nn.functional.normalize(emb).double().numpy()
    rng = np.random.RandomState(SAFETY_SEED)
    sign = np.array([{"concept": 1.0, "clean": -1.0}.get(r, 0.0) for r in roles])
    near = np.array([-SAFETY_NEAR if r in ("special", "near") else 0.0 for r in roles])
    special = np.array([1.0 if r == "special" else -1.0 for r in roles])
    chosen = {}
    for key, pattern, offsets in (("concept", sign, near), ("special", special, np.zeros(len(roles)))):
        for margin in np.arange(0.1, 0.0, -0.005):
            t = best_threshold(x, margin * pattern, offsets)
            w = unit_solution(x, t + margin * pattern + offsets, rng)
            if w is not None:
                chosen[key] = (t, float(margin), w)
                break
        else:
            raise RuntimeError(f"cannot calibrate the {key} embedding")
    t, _, w = chosen["concept"]
    checker.concept_embeds[0] = torch.from_numpy(w).float()
    checker.concept_embeds_weights[0] = t
    t, _, w = chosen["special"]
    checker.special_care_embeds[0] = torch.from_numpy(w).float()
    checker.special_care_embeds_weights[0] = t
    cos, spc, _ = safety_cosines(checker, pv)
    checker.concept_embeds_weights[1:] = torch.from_numpy(cos[:, 1:].max(0) + SAFETY_UNUSED_MARGIN)
    checker.special_care_embeds_weights[1:] = torch.from_numpy(spc[:, 1:].max(0) + SAFETY_UNUSED_MARGIN)
    checker.calibration = {k: {"threshold": v[0], "margin": v[1]} for k, v in chosen.items()}
    # Both of diffusers' code paths must give the roles.
    scores = safety_scores(checker, pv)
    flags_onnx = checker.forward_onnx(pv, torch.zeros(len(roles), 8, 8, 3))[1].tolist()
    flags_torch = checker(pv, [np.zeros((8, 8, 3)) for _ in roles])[1]
    want = [r in ("concept", "special") for r in roles]
    assert flags_onnx == want and flags_torch == want, (flags_onnx, flags_torch, want)
    for r, s in zip(roles, scores):
        assert (s["special_max"] > 0) == (r == "special"), (r, s)
    print("safety checker calibration:", json.dumps(checker.calibration))
    return scores


def safety_model_index():
    """model_index.json as diffusers' OnnxStableDiffusionPipeline (what
    convert_stable_diffusion_checkpoint_to_onnx.py saved, the layout of SD 1.x ONNX exports with
    safety_checker/model.onnx) writes it."""
    from diffusers import OnnxRuntimeModel, OnnxStableDiffusionPipeline, PNDMScheduler
    from transformers import CLIPImageProcessor, CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(OUT / "tokenizer"))
    parts = {k: OnnxRuntimeModel(None) for k in
             ("vae_encoder", "vae_decoder", "text_encoder", "unet", "safety_checker")}
    pipe = OnnxStableDiffusionPipeline(
        **parts, tokenizer=tok, scheduler=PNDMScheduler.from_pretrained(str(OUT / "scheduler")),
        feature_extractor=CLIPImageProcessor(), requires_safety_checker=True)
    with tempfile.TemporaryDirectory() as td:
        pipe.save_config(td)
        d = json.loads((Path(td) / "model_index.json").read_text())
    d["_name_or_path"] = SAFETY_OUT.name
    return d


def make_safety_fixture():
    """tests/fixtures/tiny-sd1-safety: tiny-sd2's parts (links) in the layout of an SD 1.x ONNX
    export with a safety checker: safety_checker/model.onnx (forward_onnx of diffusers'
    StableDiffusionSafetyChecker), feature_extractor/preprocessor_config.json (CLIPImageProcessor)."""
    import onnx
    import onnxruntime
    from transformers import CLIPImageProcessor
    from make_goldens import safety_unchecked_images

    if SAFETY_OUT.exists():
        shutil.rmtree(SAFETY_OUT)
    SAFETY_OUT.mkdir(parents=True)
    link_parts(SAFETY_OUT, ["text_encoder", "unet", "vae_decoder", "vae_encoder", "tokenizer", "scheduler"])
    (SAFETY_OUT / "model_index.json").write_text(json.dumps(safety_model_index(), indent=2, sort_keys=True) + "\n")
    # The OpenAI CLIP preprocessing SD 1.x ships (CLIPImageProcessor's defaults).
    CLIPImageProcessor(do_resize=True, size={"shortest_edge": 224}, resample=3, do_center_crop=True,
                       crop_size={"height": 224, "width": 224}, do_rescale=True, rescale_factor=1 / 255,
                       do_normalize=True, do_convert_rgb=True).save_pretrained(str(SAFETY_OUT / "feature_extractor"))

    unchecked = safety_unchecked_images()
    images = [im for _, imgs in unchecked for im in imgs]
    checker = build_safety_checker(images)
    dst = SAFETY_OUT / "safety_checker"
    dst.mkdir()
    checker.config.architectures = ["StableDiffusionSafetyChecker"]
    checker.config.save_pretrained(str(dst))
    normalize_configs(dst, "tiny-sd1-safety/safety_checker")
    onnx_path = dst / "model.onnx"
    clip_dummy = torch.from_numpy(np.random.RandomState(0).randn(1, 3, 224, 224).astype(np.float32))
    images_dummy = torch.from_numpy(np.random.RandomState(1).randn(1, 64, 64, 3).astype(np.float32))
    # As diffusers' convert_stable_diffusion_checkpoint_to_onnx.py: `safety_checker.forward =
    # safety_checker.forward_onnx`, dummy inputs [1, 3, 224, 224] and [1, vae sample_size,
    # vae sample_size, 3], the TorchScript exporter.
    checker.forward = checker.forward_onnx
    try:
        torch.onnx.export(
            checker, (clip_dummy, images_dummy), str(onnx_path),
            input_names=["clip_input", "images"], output_names=["out_images", "has_nsfw_concepts"],
            dynamic_axes={"clip_input": {0: "batch", 1: "channels", 2: "height", 3: "width"},
                          "images": {0: "batch", 1: "height", 2: "width", 3: "channels"}},
            do_constant_folding=True, opset_version=SAFETY_EXPORT_OPSET, dynamo=False)
    finally:
        del checker.forward
    m = onnx.load(str(onnx_path))
    onnx.checker.check_model(m)
    inline_external_data(dst)
    info = describe_onnx(dst)

    sess = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pv = clip_pixel_values(images)
    rows, k = [], 0
    max_diff = 0.0
    for case, imgs in unchecked:
        n = len(imgs)
        x = (imgs.astype(np.float32) / np.float32(255))
        out, flags = sess.run(None, {"clip_input": pv[k:k + n].numpy(), "images": x.copy()})
        ref_img, ref_flags = checker.forward_onnx(pv[k:k + n], torch.from_numpy(x.copy()))
        assert flags.tolist() == ref_flags.tolist(), case[0]
        max_diff = max(max_diff, float(np.abs(out - ref_img.numpy()).max()))
        for i, s in enumerate(safety_scores(checker, pv[k:k + n])):
            rows.append((case[0] + ("" if n == 1 else f"-{i}"), f"{imgs.shape[2]}x{imgs.shape[1]}",
                         case[-1][i], bool(flags[i]), s))
        k += n
    assert max_diff == 0.0, max_diff
    write_safety_readme(info, rows, checker.calibration)
    print(f"[safety] {sum(r[3] for r in rows)} of {len(rows)} golden images flagged")


def write_safety_readme(info, rows, calibration):
    cfg = SAFETY_CLIP_CONFIG["vision_config"]
    lines = [
        "# tiny-sd1-safety",
        "",
        "tiny-sd2's parts (`text_encoder`, `unet`, `vae_decoder`, `vae_encoder`, `tokenizer`,",
        "`scheduler`: symbolic links to ../tiny-sd2) in the layout of a Stable Diffusion **1.x** ONNX",
        "export that ships a safety checker:",
        "",
        "- `model_index.json`: as diffusers' `OnnxStableDiffusionPipeline` writes it (the layout of",
        "  `scripts/convert_stable_diffusion_checkpoint_to_onnx.py`, e.g. the `onnx` revisions of",
        "  runwayml/stable-diffusion-v1-5): `safety_checker` and the ONNX parts",
        "  `[\"diffusers\", \"OnnxRuntimeModel\"]`, `feature_extractor [\"transformers\", \"CLIPImageProcessor\"]`,",
        "  `requires_safety_checker: true`. (An optimum export of SD 1.5 names",
        "  `[\"stable_diffusion\", \"StableDiffusionSafetyChecker\"]` instead and ships no safety_checker/.)",
        "- `feature_extractor/preprocessor_config.json`: transformers' `CLIPImageProcessor` with the",
        "  OpenAI CLIP settings SD 1.x ships: resize the shortest edge to 224 (bicubic, `resample` 3),",
        "  center crop 224x224, rescale 1/255, normalize with the OpenAI CLIP mean/std, convert to RGB.",
        "- `safety_checker/model.onnx` (+ `config.json`, the `CLIPConfig`): diffusers'",
        "  `StableDiffusionSafetyChecker` with a tiny **random** CLIP vision tower (hidden %d, %d layers," % (cfg["hidden_size"], cfg["num_hidden_layers"]),
        "  %d heads, patch %d, image %d, projection_dim %d; torch seed %d; attention q/k/v/out x%g)," % (
            cfg["num_attention_heads"], cfg["patch_size"], cfg["image_size"], SAFETY_CLIP_CONFIG["projection_dim"],
            SAFETY_SEED, SAFETY_ATTN_GAIN),
        "  exported as the convert script did: `forward = forward_onnx`, `torch.onnx.export`",
        "  (TorchScript exporter, opset %d, constant folding), inputs `clip_input` float32" % SAFETY_EXPORT_OPSET,
        "  `[batch, 3, 224, 224]` and `images` float32 `[batch, H, W, 3]`, outputs `out_images` (the",
        "  images, flagged ones set to 0.0) and `has_nsfw_concepts` bool `[batch]`.",
        "",
        "What the graph computes (diffusers `safety_checker.py`, `forward_onnx`): `e = visual_projection(",
        "vision_model(clip_input).pooler_output)`; `cos = normalize(e) @ normalize(concept_embeds).T`",
        "(17 concepts) and likewise for the 3 `special_care_embeds`; `special = special_cos -",
        "special_care_embeds_weights`; `adj = 0.01` for an image with any `special > 0`, else 0;",
        "`concept = cos - concept_embeds_weights + adj`; flagged = any `concept > 0`; flagged images are",
        "set to 0.0 in `images` (black).",
        "",
        "## Calibration",
        "",
        "Random concept embeddings give scores that do not depend on the picture, so the checker is",
        "calibrated on the golden images of `tests/goldens/safety.json` (generated with these very",
        "graphs by optimum's pipeline; `make_goldens.SAFETY_CASES`), by `calibrate_safety_checker()`:",
        "each image has a role; concept 0's embedding is a unit vector `w` solved (least squares,",
        "minimum norm, plus a random component orthogonal to the image embeddings to make |w| = 1) so that",
        "its cosine with each (normalized) image embedding is exactly `t + m` (role `concept`),",
        "`t - m` (`clean`) or `t - %g` (`special`, `near`), with the threshold `t` that minimizes the" % SAFETY_NEAR,
        "norm and the largest margin `m` (steps of 0.005 from 0.1) that keeps the minimum norm <= 0.9;",
        "special-care concept 0 likewise, `+m` for the `special` image and `-m` for the others; the",
        "other 16 concepts and 2 special concepts keep their random embeddings with a threshold %g" % SAFETY_UNUSED_MARGIN,
        "above their largest cosine over the images. Result: concept 0 threshold %.6f, margin %.3f;" % (
            calibration["concept"]["threshold"], calibration["concept"]["margin"]),
        "special-care 0 threshold %.6f, margin %.3f. `special` is flagged only through the +0.01" % (
            calibration["special"]["threshold"], calibration["special"]["margin"]),
        "adjustment, `near` is not flagged (it would be with the adjustment).",
        "",
        "| image | size | role | flagged (ONNX) | max concept score | max special score |",
        "|---|---|---|---|---|---|",
    ]
    for name, size, role, flag, s in rows:
        lines.append(f"| {name} | {size} | {role} | {flag} | {s['concept_max']:+.4f} | {s['special_max']:+.4f} |")
    lines += [
        "",
        "Generated by (from the repository root, with the venv from `tools/requirements.txt`):",
        "",
        "    python tools/make_tiny_model.py --safety-only",
        "",
        "(the full `python tools/make_tiny_model.py` run makes it too), then",
        "`python tools/make_goldens.py --safety-only`. Deterministic (CPU). Changing the golden cases",
        "or tiny-sd2 changes the calibration: rebuild both.",
        "",
        "## ONNX models",
        "",
    ]
    for name, d in info.items():
        lines.append(f"### {name}/model.onnx (opset {', '.join(d['opset'])})")
        lines.append("")
        for s_ in d["inputs"]:
            lines.append(f"- input  `{s_}`")
        for s_ in d["outputs"]:
            lines.append(f"- output `{s_}`")
        lines.append("")
    import diffusers
    import onnx
    import onnxruntime
    import optimum.version
    import transformers

    lines += ["## Versions", ""]
    for k, v in {"torch": torch.__version__, "diffusers": diffusers.__version__,
                 "transformers": transformers.__version__, "optimum": optimum.version.__version__,
                 "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}.items():
        lines.append(f"- {k} {v}")
    lines.append("")
    (SAFETY_OUT / "README.md").write_text("\n".join(lines), encoding="utf-8")
    root = SAFETY_OUT.resolve()
    total = sum(p.stat().st_size for p in SAFETY_OUT.rglob("*")
                if p.is_file() and p.resolve().is_relative_to(root))
    print(f"wrote {SAFETY_OUT.relative_to(REPO)} ({total} bytes in real files)")


if __name__ == "__main__":
    main()
