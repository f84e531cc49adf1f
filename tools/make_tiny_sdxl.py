#!/usr/bin/env python3
"""Build the tiny Stable Diffusion XL fixtures: randomly initialised diffusers SDXL pipelines
with the real SDXL architecture at tiny sizes, exported to ONNX with optimum exactly as users
export them (optimum.exporters.onnx.main_export).

Run from the repository root (after tools/make_tiny_model.py, whose tiny-sd2 tokenizer files
the SDXL tokenizers link to):

    /work/venv/bin/python tools/make_tiny_sdxl.py

Writes:

  tests/fixtures/tiny-sdxl          base: two CLIP text encoders (CLIPTextModel and
                                    CLIPTextModelWithProjection, different hidden sizes and
                                    layer counts), a text_time UNet, the SDXL VAE scaling 0.13025,
                                    SDXL base's EulerDiscreteScheduler config,
                                    force_zeros_for_empty_prompt true (task text-to-image)
  tests/fixtures/tiny-sdxl-nozeros  the same parts (links) with force_zeros_for_empty_prompt false
  tests/fixtures/tiny-sdxl-refiner  refiner: text_encoder_2/tokenizer_2 only,
                                    requires_aesthetics_score true, its own UNet (time_ids 5 wide,
                                    cross-attention = text encoder 2's hidden size)
                                    (task image-to-image)
  tests/fixtures/tiny-sdxl-inpaint  a 9-channel inpainting UNet, the rest base's (task inpainting)

Only the ones named: `--base-only` (tiny-sdxl and tiny-sdxl-nozeros), `--refiner-only`,
`--inpaint-only`. `--check-full` checks the full-size architecture of `make_full` (the benchmark
model that `tools/make_tiny_model.py --full-sdxl DIR` writes outside git) against SDXL base
1.0's parameter counts, on torch's meta device (no memory, seconds). The refiner and inpaint fixtures link to tiny-sdxl's committed parts and check
that the rebuilt torch parts match them.

Everything is deterministic (fixed torch seeds, CPU, no network). The tokenizer vocabulary is
make_tiny_model's (open-clip-torch's BPE file read as CLIP's SimpleTokenizer does), so the ids
are the real CLIP ids.
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
os.environ.setdefault("DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tiny_model import (  # noqa: E402
    describe_onnx,
    fmt_stat,
    img_u8,
    inline_external_data,
    normalize_configs,
    scale_unet_weights,
    write_clip_vocab,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
BASE = FIXTURES / "tiny-sdxl"
NOZEROS = FIXTURES / "tiny-sdxl-nozeros"
REFINER = FIXTURES / "tiny-sdxl-refiner"
INPAINT = FIXTURES / "tiny-sdxl-inpaint"
SD2_TOKENIZER = FIXTURES / "tiny-sd2" / "tokenizer"

SEED = 20240815            # base: tokenizers, both text encoders, UNet, VAE (in that order)
REFINER_UNET_SEED = SEED + 1
INPAINT_UNET_SEED = SEED + 2

# The two text encoders differ in hidden size AND layer count (SDXL: CLIP ViT-L 768 / 12 layers,
# OpenCLIP bigG 1280 / 32 layers), so a hard-coded hidden-state index or width fails. Encoder 2's
# projection_dim (the pooled `text_embeds` width, 1280 in SDXL) also differs from its hidden size.
# bos/eos/pad ids 0/2/1 as the real SDXL configs state them (transformers then pools at
# argmax(input_ids), the first EOS, which the graph computes).
# Widths are small: the 49408-row token embeddings are most of the fixture (12 and 20 floats a row).
TEXT_ENCODER_1 = dict(vocab_size=49408, hidden_size=12, intermediate_size=24, num_hidden_layers=2,
                      num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                      projection_dim=12, pad_token_id=1, bos_token_id=0, eos_token_id=2)
TEXT_ENCODER_2 = dict(vocab_size=49408, hidden_size=20, intermediate_size=40, num_hidden_layers=3,
                      num_attention_heads=4, max_position_embeddings=77, hidden_act="gelu",
                      projection_dim=16, pad_token_id=1, bos_token_id=0, eos_token_id=2)
CROSS_ATTENTION_DIM = TEXT_ENCODER_1["hidden_size"] + TEXT_ENCODER_2["hidden_size"]  # 32 (SDXL 2048)
# SDXL: 256. Each time id goes through a sinusoidal embedding of this width, so with 8 the
# frequencies are 1, 0.1, 0.01, 0.001 and 64 vs 96 (height vs width) tell apart.
ADDITION_TIME_EMBED_DIM = 8

UNET_COMMON = dict(
    sample_size=8,                    # 64x64 native (SDXL: 128 -> 1024)
    out_channels=4,
    layers_per_block=1,                # SDXL: 2 (halves the UNet graph here)
    norm_num_groups=8,
    use_linear_projection=True,
    addition_embed_type="text_time",
    addition_time_embed_dim=ADDITION_TIME_EMBED_DIM,
)
# SDXL base: (320, 640, 1280), transformer_layers_per_block (1, 2, 10), heads (5, 10, 20).
BASE_UNET = dict(
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(16, 16, 32),
    transformer_layers_per_block=(1, 1, 2),
    attention_head_dim=(2, 2, 4),
    cross_attention_dim=CROSS_ATTENTION_DIM,
    projection_class_embeddings_input_dim=TEXT_ENCODER_2["projection_dim"] + 6 * ADDITION_TIME_EMBED_DIM,
)
# SDXL refiner: (384, 768, 1536, 1536), 4 transformer layers, heads (6, 12, 24, 24),
# cross-attention 1280 (text encoder 2 only), time ids (h, w, top, left, aesthetic score).
REFINER_UNET = dict(
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(16, 16, 32, 32),
    transformer_layers_per_block=1,
    attention_head_dim=(2, 2, 4, 4),
    cross_attention_dim=TEXT_ENCODER_2["hidden_size"],
    projection_class_embeddings_input_dim=TEXT_ENCODER_2["projection_dim"] + 5 * ADDITION_TIME_EMBED_DIM,
)

# Weight gains after random init (on top of make_tiny_model.scale_unet_weights: attn2.to_out x4):
# the micro-conditioning path (time ids -> add_embedding) barely moves a random UNet; this gain on
# add_embedding.linear_1 makes (h, w) vs (w, h) change the image beyond the golden tolerance.
ADD_EMBEDDING_GAIN = 4.0
VAE_SCALING_FACTOR = 0.13025

# stabilityai/stable-diffusion-xl-base-1.0 (and -refiner-1.0) scheduler/scheduler_config.json,
# verbatim (keys EulerDiscreteScheduler does not read included, as shipped).
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.19.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}

PROMPT_A = "a photo of an astronaut riding a horse on mars"
PROMPT_B = "a red cube on a wooden table"


# --------------------------------------------------------------------------
# parts
# --------------------------------------------------------------------------
def build_tokenizers(workdir: Path):
    """SDXL's two CLIP tokenizers: the same vocabulary; tokenizer (openai/clip-vit-large-patch14)
    pads with <|endoftext|> (49407), tokenizer_2 (laion bigG) with `!` (0)."""
    from transformers import CLIPTokenizer

    vocab, merges = write_clip_vocab(workdir / "bpe")
    tok1 = CLIPTokenizer(str(vocab), str(merges), pad_token="<|endoftext|>", model_max_length=77)
    tok2 = CLIPTokenizer(str(vocab), str(merges), pad_token="!", model_max_length=77)
    assert tok1.pad_token_id == 49407 and tok2.pad_token_id == 0
    for t in (tok1, tok2):
        assert t.bos_token_id == 49406 and t.eos_token_id == 49407
        assert t.fix_text is not None, "ftfy must be installed"
    return tok1, tok2


def build_text_encoders():
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    te1 = CLIPTextModel(CLIPTextConfig(**TEXT_ENCODER_1)).eval()
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(**TEXT_ENCODER_2)).eval()
    return te1, te2


def build_unet(kind: str, in_channels: int = 4):
    from diffusers import UNet2DConditionModel

    arch = REFINER_UNET if kind == "refiner" else BASE_UNET
    unet = UNet2DConditionModel(in_channels=in_channels, **UNET_COMMON, **arch).eval()
    scale_unet_weights(unet)
    with torch.no_grad():
        unet.add_embedding.linear_1.weight.mul_(ADD_EMBEDDING_GAIN)
    return unet


def build_vae():
    """tiny-sd2's VAE architecture with SDXL's scaling factor (and force_upcast, SDXL's VAE
    config; a no-op in float32)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=(8, 8, 16, 16),
        latent_channels=4, norm_num_groups=4, layers_per_block=1, sample_size=64,
        scaling_factor=VAE_SCALING_FACTOR, force_upcast=True,
    ).eval()


def build_scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler.from_config(SDXL_SCHEDULER)


def build_base(workdir: Path):
    """The base pipeline's torch parts, always drawn in the same order from SEED."""
    from diffusers import StableDiffusionXLPipeline

    torch.manual_seed(SEED)
    tok1, tok2 = build_tokenizers(workdir)
    te1, te2 = build_text_encoders()
    unet = build_unet("base")
    vae = build_vae()
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1, tokenizer_2=tok2,
        unet=unet, scheduler=build_scheduler(), force_zeros_for_empty_prompt=True,
        add_watermarker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# --------------------------------------------------------------------------
# the full-size benchmark model (outside git)
# --------------------------------------------------------------------------
# stabilityai/stable-diffusion-xl-base-1.0's component configurations, as its config.json files
# state them (keys at their diffusers/transformers defaults left out).
FULL_TEXT_ENCODER_1 = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                           num_hidden_layers=12, num_attention_heads=12,
                           max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2)
FULL_TEXT_ENCODER_2 = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120,
                           num_hidden_layers=32, num_attention_heads=20,
                           max_position_embeddings=77, hidden_act="gelu", projection_dim=1280,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2)
FULL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(320, 640, 1280), attention_head_dim=(5, 10, 20),
    transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048,
    use_linear_projection=True, norm_num_groups=32, addition_embed_type="text_time",
    addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
FULL_VAE = dict(
    in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=(128, 256, 512, 512),
    latent_channels=4, norm_num_groups=32, layers_per_block=2, sample_size=1024,
    scaling_factor=VAE_SCALING_FACTOR, force_upcast=True)
# The parameter counts of the real checkpoints' parts: the architecture above is theirs.
FULL_PARAMETERS = {"text_encoder": 123_060_480, "text_encoder_2": 694_659_840,
                   "unet": 2_567_463_684, "vae": 83_653_863}


def full_parts(device="cpu"):
    """The full-size parts with torch's default random initialisation (on `meta`: shapes only,
    no memory, to check the architecture)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.device(device):
        parts = {
            "text_encoder": CLIPTextModel(CLIPTextConfig(**FULL_TEXT_ENCODER_1)).eval(),
            "text_encoder_2": CLIPTextModelWithProjection(
                CLIPTextConfig(**FULL_TEXT_ENCODER_2)).eval(),
            "unet": UNet2DConditionModel(**FULL_UNET).eval(),
            "vae": AutoencoderKL(**FULL_VAE).eval(),
        }
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    if counts != FULL_PARAMETERS:
        sys.exit(f"full-size SDXL parts differ from SDXL base 1.0: {counts}")
    return parts


def make_full(dst: Path):
    """The SDXL benchmark model (tools/make_tiny_model.py --full-sdxl DIR): SDXL base 1.0's
    architecture with random weights, exported by optimum as users export SDXL (about 14 GB of
    float32: 13,878,230,181 bytes). The export holds the 10.3 GB UNet more than once (torch's
    module and the ONNX graph being written): on this project's 2-core, 23 GB machine it took
    13 min 44 s with a peak resident set of 22.4 GB (`/usr/bin/time -v`) and 6 GB of swap in
    use at one reading of `free -g` during it, so add swap first on such a machine."""
    from diffusers import StableDiffusionXLPipeline
    from optimum.exporters.onnx import onnx_export_from_model

    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as td:
        tok1, tok2 = build_tokenizers(Path(td))
        parts = full_parts()
        pipe = StableDiffusionXLPipeline(
            vae=parts["vae"], text_encoder=parts["text_encoder"],
            text_encoder_2=parts["text_encoder_2"], tokenizer=tok1, tokenizer_2=tok2,
            unet=parts["unet"], scheduler=build_scheduler(), force_zeros_for_empty_prompt=True,
            add_watermarker=False)
        del parts
        if dst.exists():
            shutil.rmtree(dst)
        # What main_export runs after loading the saved pipeline back (the same graphs, byte
        # for byte, on the tiny fixture), without 14 GB of safetensors written and read back.
        onnx_export_from_model(pipe, output=str(dst), task="text-to-image", device="cpu",
                               do_validation=False)
    total = 0
    for p in sorted(dst.rglob("*")):
        if p.is_file() and p.suffix in (".bin", ".safetensors", ".msgpack"):
            p.unlink()
        elif p.is_file():
            total += p.stat().st_size
            print(f"    {p.stat().st_size:>12}  {p.relative_to(dst)}")
    print(f"full-size SDXL model: {total} bytes in {dst}")


# --------------------------------------------------------------------------
# export helpers
# --------------------------------------------------------------------------
def export(pipe, workdir: Path, task: str, name: str) -> Path:
    from optimum.exporters.onnx import main_export

    src = workdir / f"{name}-src"
    pipe.save_pretrained(src, safe_serialization=True)
    out = workdir / f"{name}-onnx"
    main_export(str(src), output=str(out), task=task, device="cpu")
    inline_external_data(out)
    for p in sorted(out.rglob("*")):
        if p.is_file() and (p.suffix in (".bin", ".safetensors", ".msgpack") or p.name == "tokenizer.json"):
            p.unlink()
    return out


def write_json(path: Path, obj):
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def link(dst: Path, target: str):
    dst.symlink_to(target)


def same_part(a: Path, b: Path) -> bool:
    """Same files (configs without _name_or_path; ONNX: same nodes and initializer values)."""
    import onnx
    from onnx import numpy_helper

    names = sorted(q.name for q in a.iterdir())
    if names != sorted(q.name for q in b.iterdir()):
        return False
    for n in names:
        q, r = a / n, b / n
        if q.suffix == ".json":
            da, db = json.loads(q.read_text()), json.loads(r.read_text())
            for d in (da, db):
                d.pop("_name_or_path", None)
            if da != db:
                return False
        elif q.suffix == ".onnx":
            ga, gb = onnx.load(str(q)).graph, onnx.load(str(r)).graph
            ia = {i.name: numpy_helper.to_array(i) for i in ga.initializer}
            ib = {i.name: numpy_helper.to_array(i) for i in gb.initializer}
            if ([x.SerializeToString() for x in ga.node] != [x.SerializeToString() for x in gb.node]
                    or ia.keys() != ib.keys() or not all(np.array_equal(ia[k], ib[k]) for k in ia)):
                return False
        elif q.read_bytes() != r.read_bytes():
            return False
    return True


def ort_io(folder: Path):
    """Input/output names, element types and shapes as onnxruntime reports them."""
    import onnxruntime

    info = {}
    for p in sorted(folder.rglob("model.onnx")):
        if p.parent.is_symlink():
            continue
        s = onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        info[p.parent.name] = {
            "inputs": [f"{i.name}: {i.type} {i.shape}" for i in s.get_inputs()],
            "outputs": [f"{o.name}: {o.type} {o.shape}" for o in s.get_outputs()],
        }
    return info


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------
@torch.no_grad()
def check_text_encoders(pipe, folder: Path):
    """The exported text encoders' outputs against torch's (hidden_states.i is torch's
    hidden_states[i]: i = 0 the embeddings, i = L the last layer before final_layer_norm)."""
    import onnxruntime

    diffs = {}
    for part, te, tok in (("text_encoder", pipe.text_encoder, pipe.tokenizer),
                          ("text_encoder_2", pipe.text_encoder_2, pipe.tokenizer_2)):
        if te is None:
            continue
        ids = tok([PROMPT_A, ""], padding="max_length", max_length=77, truncation=True,
                  return_tensors="np").input_ids.astype(np.int64)
        s = onnxruntime.InferenceSession(str(folder / part / "model.onnx"), providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in s.get_outputs()], s.run(None, {"input_ids": ids})))
        ref = te(torch.from_numpy(ids), output_hidden_states=True)
        L = te.config.num_hidden_layers
        want = {"last_hidden_state": ref.last_hidden_state}
        want.update({f"hidden_states.{i}": ref.hidden_states[i] for i in range(L + 1)})
        if "text_embeds" in got:
            want["text_embeds"] = ref.text_embeds
        else:
            want["pooler_output"] = ref.pooler_output
        assert set(got) == set(want), (part, sorted(got), sorted(want))
        diffs[part] = max(float(np.abs(got[k] - want[k].numpy()).max()) for k in want)
    return diffs


def run_image(pipe, seed, prompt=PROMPT_A, w=64, h=96, steps=5, guidance=5.0, **kw):
    lat = np.random.RandomState(seed).randn(1, 4, h // 8, w // 8).astype(np.float32)
    return img_u8(pipe(prompt, width=w, height=h, num_inference_steps=steps, guidance_scale=guidance,
                       latents=torch.from_numpy(lat), output_type="np", **kw).images)[0]


def measure(pipe, label):
    """Image statistics and how much each input moves the image (0..255 units, mean |diff|)."""
    a = run_image(pipe, 42)
    d = lambda b: float(np.abs(a - b).mean())  # noqa: E731
    stats = {
        "pixel_std": float(a.std()),
        "per_channel_spatial_std": [float(a[..., c].std()) for c in range(3)],
        "mean": float(a.mean()),
        "frac_saturated": float(((a == 0) | (a == 255)).mean()),
        "seed_diff": d(run_image(pipe, 43)),
        "prompt_diff": d(run_image(pipe, 42, prompt=PROMPT_B)),
        "prompt_2_diff": d(run_image(pipe, 42, prompt_2=PROMPT_B)),
        "guidance_5.0_vs_4.9": d(run_image(pipe, 42, guidance=4.9)),
        "time_ids_(w,h)_diff": d(run_image(pipe, 42, original_size=(64, 96), target_size=(64, 96))),
        "crops_(8,0)_diff": d(run_image(pipe, 42, crops_coords_top_left=(8, 0))),
        "negative_empty_string_vs_zeros_diff": d(run_image(pipe, 42, negative_prompt="")),
    }
    print(f"[{label}] image stats, 64x96 (0..255 units):")
    for k, v in stats.items():
        print(f"    {k}: {v}")
    return stats


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
def link_tokenizer_files(folder: Path):
    """vocab.json and merges.txt are tiny-sd2's (the same vocabulary, 1.6 MB): links, after
    checking the bytes are the same."""
    for name in ("vocab.json", "merges.txt"):
        p = folder / name
        assert p.read_bytes() == (SD2_TOKENIZER / name).read_bytes(), f"{p} differs from tiny-sd2's"
        p.unlink()
        p.symlink_to(Path("..") / ".." / "tiny-sd2" / "tokenizer" / name)


def make_base():
    from optimum.onnxruntime import ORTStableDiffusionXLPipeline

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        pipe = build_base(td)
        torch_stats = measure(pipe, "torch")
        exported = export(pipe, td, "text-to-image", "base")
        for out in (BASE, NOZEROS):
            if out.exists():
                shutil.rmtree(out)
        shutil.copytree(exported, BASE, symlinks=True)
    normalize_configs(BASE, BASE.name)
    # The scheduler config as SDXL ships it (save_pretrained drops the keys Euler does not read).
    write_json(BASE / "scheduler" / "scheduler_config.json", SDXL_SCHEDULER)
    for t in ("tokenizer", "tokenizer_2"):
        link_tokenizer_files(BASE / t)
    index = json.loads((BASE / "model_index.json").read_text())
    assert index["force_zeros_for_empty_prompt"] is True, index
    te_diffs = check_text_encoders(pipe, BASE)
    print("text encoders, ONNX vs torch max |diff|:", te_diffs)

    ort = ORTStableDiffusionXLPipeline.from_pretrained(str(BASE), provider="CPUExecutionProvider")
    ort.set_progress_bar_config(disable=True)
    assert ort.watermark is None, "install no invisible-watermark: it would mark every image"
    ort_stats = measure(ort, "onnx")
    torch_vs_onnx = float(np.abs(run_image(pipe, 42) - run_image(ort, 42)).max())

    # tiny-sdxl-nozeros: every part a link, force_zeros_for_empty_prompt false.
    NOZEROS.mkdir(parents=True)
    for part in sorted(p.name for p in BASE.iterdir() if p.is_dir()):
        link(NOZEROS / part, f"../{BASE.name}/{part}")
    index["force_zeros_for_empty_prompt"] = False
    index["_name_or_path"] = NOZEROS.name
    write_json(NOZEROS / "model_index.json", index)

    write_base_readme(pipe, te_diffs, torch_stats, ort_stats, torch_vs_onnx)
    write_nozeros_readme()


@torch.no_grad()
def make_refiner():
    from diffusers import StableDiffusionXLImg2ImgPipeline
    from optimum.onnxruntime import ORTStableDiffusionXLImg2ImgPipeline

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        base = build_base(td)
        check_base_rebuild(base)
        torch.manual_seed(REFINER_UNET_SEED)
        unet = build_unet("refiner")
        pipe = StableDiffusionXLImg2ImgPipeline(
            vae=base.vae, text_encoder=None, text_encoder_2=base.text_encoder_2, tokenizer=None,
            tokenizer_2=base.tokenizer_2, unet=unet, scheduler=build_scheduler(),
            requires_aesthetics_score=True, force_zeros_for_empty_prompt=False, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        exported = export(pipe, td, "image-to-image", "refiner")
        if REFINER.exists():
            shutil.rmtree(REFINER)
        REFINER.mkdir(parents=True)
        shutil.copytree(exported / "unet", REFINER / "unet")
        shutil.copy(exported / "model_index.json", REFINER / "model_index.json")
        normalize_configs(REFINER, REFINER.name)
        report = {}
        for part in ["text_encoder_2", "tokenizer_2", "vae_decoder", "vae_encoder", "scheduler"]:
            if part != "scheduler":  # (tiny-sdxl's is SDXL's file verbatim: build_scheduler()'s source)
                report[part] = same_part(exported / part, BASE / part)
            link(REFINER / part, f"../{BASE.name}/{part}")
        assert not (exported / "text_encoder").exists() and not (exported / "tokenizer").exists()
    print("refiner parts equal to tiny-sdxl's (now links):", report)
    assert all(report.values()), report
    index = json.loads((REFINER / "model_index.json").read_text())
    assert index["requires_aesthetics_score"] is True and index["force_zeros_for_empty_prompt"] is False, index
    assert index["text_encoder"] == [None, None] and index["tokenizer"] == [None, None], index

    ort = ORTStableDiffusionXLImg2ImgPipeline.from_pretrained(str(REFINER), provider="CPUExecutionProvider")
    ort.set_progress_bar_config(disable=True)
    assert ort.text_encoder is None and ort.tokenizer is None
    image = init_picture()

    def go(p, seed, **kw):
        args = dict(prompt=PROMPT_A, image=image, num_inference_steps=6, guidance_scale=5.0,
                    strength=0.6, generator=torch.Generator("cpu").manual_seed(seed), output_type="np")
        args.update(kw)
        return img_u8(p(**args).images)[0]

    a_t, a_o = go(pipe, 42), go(ort, 42)
    stats = {
        "pixel_std": float(a_o.std()),
        "mean": float(a_o.mean()),
        "torch_vs_onnx_max_abs": float(np.abs(a_t - a_o).max()),
        "seed_diff": float(np.abs(a_o - go(ort, 43)).mean()),
        "prompt_diff": float(np.abs(a_o - go(ort, 42, prompt=PROMPT_B)).mean()),
        "aesthetic_score_6_vs_9_diff": float(np.abs(a_o - go(ort, 42, aesthetic_score=9.0)).mean()),
        "negative_aesthetic_score_2.5_vs_1_diff": float(np.abs(a_o - go(ort, 42, negative_aesthetic_score=1.0)).mean()),
        "strength_0.6_vs_0.8_diff": float(np.abs(a_o - go(ort, 42, strength=0.8)).mean()),
        "mean_abs_diff_to_input": float(np.abs(a_o - np.asarray(image, np.float64)).mean()),
    }
    print("[refiner] stats:", json.dumps(stats))
    write_part_readme(REFINER, "tiny-sdxl-refiner", [
        "The Stable Diffusion XL **refiner** layout (as stabilityai/stable-diffusion-xl-refiner-1.0):",
        "`model_index.json` names `StableDiffusionXLImg2ImgPipeline` with `text_encoder` and",
        "`tokenizer` `[null, null]`, `requires_aesthetics_score: true`,",
        "`force_zeros_for_empty_prompt: false`. Only text encoder 2 conditions it: the UNet's",
        "cross-attention width is text encoder 2's hidden size (%d; the refiner: 1280), and its" % REFINER_UNET["cross_attention_dim"],
        "`time_ids` rows are **5** wide: `(original_h, original_w, crop_top, crop_left,",
        "aesthetic_score)` (defaults 6.0, negative 2.5), so `projection_class_embeddings_input_dim` is",
        "%d = text_embeds width %d + 5 x addition_time_embed_dim %d (the refiner: 2560 = 1280 + 5 x 256)." % (
            REFINER_UNET["projection_class_embeddings_input_dim"], TEXT_ENCODER_2["projection_dim"], ADDITION_TIME_EMBED_DIM),
        "",
        "UNet (**random weights**, torch seed %d): the refiner's 4-level layout, down %s," % (REFINER_UNET_SEED, list(REFINER_UNET["down_block_types"])),
        "up %s, block_out_channels %s, transformer_layers_per_block %d," % (
            list(REFINER_UNET["up_block_types"]), REFINER_UNET["block_out_channels"], REFINER_UNET["transformer_layers_per_block"]),
        "attention_head_dim %s, layers_per_block 1, norm groups 8, linear projection," % (REFINER_UNET["attention_head_dim"],),
        "`addition_embed_type: text_time`, `addition_time_embed_dim: %d`; the same weight gains as" % ADDITION_TIME_EMBED_DIM,
        "tiny-sdxl's UNet. Exported by optimum's `main_export(..., task=\"image-to-image\")` from a",
        "diffusers `StableDiffusionXLImg2ImgPipeline` whose other parts are tiny-sdxl's (rebuilt with its",
        "seed and checked against the committed graphs).",
        "",
        "Only `unet/` and `model_index.json` are real files; `text_encoder_2`, `tokenizer_2`,",
        "`vae_encoder`, `vae_decoder` and `scheduler` are symbolic links to tiny-sdxl's (the real",
        "refiner ships the same text encoder 2, VAE and scheduler config). The exported copies were",
        "compared with tiny-sdxl's before linking: %s." % ", ".join(f"{k} {'same' if v else 'DIFFERENT'}" for k, v in report.items()),
        "Loads with optimum's `ORTStableDiffusionXLImg2ImgPipeline`.",
    ], ort_io(REFINER), stats,
        "tests/goldens/inputs/init_64.png, prompt %r, seed 42 (torch generator), 6 steps, guidance 5.0, "
        "strength 0.6; 0..255 units" % PROMPT_A, "--refiner-only")


@torch.no_grad()
def make_inpaint():
    from diffusers import StableDiffusionXLInpaintPipeline
    from optimum.onnxruntime import ORTStableDiffusionXLInpaintPipeline

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        base = build_base(td)
        check_base_rebuild(base)
        torch.manual_seed(INPAINT_UNET_SEED)
        unet = build_unet("base", in_channels=9)
        pipe = StableDiffusionXLInpaintPipeline(
            vae=base.vae, text_encoder=base.text_encoder, text_encoder_2=base.text_encoder_2,
            tokenizer=base.tokenizer, tokenizer_2=base.tokenizer_2, unet=unet, scheduler=build_scheduler(),
            requires_aesthetics_score=False, force_zeros_for_empty_prompt=True, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        exported = export(pipe, td, "inpainting", "inpaint")
        if INPAINT.exists():
            shutil.rmtree(INPAINT)
        INPAINT.mkdir(parents=True)
        shutil.copytree(exported / "unet", INPAINT / "unet")
        shutil.copy(exported / "model_index.json", INPAINT / "model_index.json")
        normalize_configs(INPAINT, INPAINT.name)
        report = {}
        for part in ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae_decoder",
                     "vae_encoder", "scheduler"]:
            if part != "scheduler":
                report[part] = same_part(exported / part, BASE / part)
            link(INPAINT / part, f"../{BASE.name}/{part}")
    print("inpaint parts equal to tiny-sdxl's (now links):", report)
    assert all(report.values()), report
    index = json.loads((INPAINT / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLInpaintPipeline", index

    ort = ORTStableDiffusionXLInpaintPipeline.from_pretrained(str(INPAINT), provider="CPUExecutionProvider")
    ort.set_progress_bar_config(disable=True)
    assert ort.unet.config.in_channels == 9
    image, mask = init_picture(), mask_image()

    def go(p, seed, **kw):
        args = dict(prompt=PROMPT_A, image=image, mask_image=mask, width=64, height=64,
                    num_inference_steps=6, guidance_scale=5.0, strength=1.0,
                    generator=torch.Generator("cpu").manual_seed(seed), output_type="np")
        args.update(kw)
        return img_u8(p(**args).images)[0]

    a_t, a_o = go(pipe, 42), go(ort, 42)
    m = np.asarray(mask) >= 128
    init = np.asarray(image, np.float64)
    stats = {
        "pixel_std": float(a_o.std()),
        "mean": float(a_o.mean()),
        "torch_vs_onnx_max_abs": float(np.abs(a_t - a_o).max()),
        "seed_diff": float(np.abs(a_o - go(ort, 43)).mean()),
        "prompt_diff": float(np.abs(a_o - go(ort, 42, prompt=PROMPT_B)).mean()),
        "strength_1_vs_0.75_diff": float(np.abs(a_o - go(ort, 42, strength=0.75)).mean()),
        "mean_abs_diff_to_input_inside_mask": float(np.abs(a_o - init)[m].mean()),
        "mean_abs_diff_to_input_outside_mask": float(np.abs(a_o - init)[~m].mean()),
    }
    print("[inpaint] stats:", json.dumps(stats))
    write_part_readme(INPAINT, "tiny-sdxl-inpaint", [
        "The Stable Diffusion XL **inpainting** layout (as diffusers/stable-diffusion-xl-1.0-inpainting-0.1):",
        "`model_index.json` names `StableDiffusionXLInpaintPipeline` (`force_zeros_for_empty_prompt:",
        "true`, `requires_aesthetics_score: false`), and the UNet has `in_channels: 9` — the 4 noisy",
        "latents, the 1-channel mask, the 4 masked-image latents, concatenated on the channel axis —",
        "with **random weights** (torch seed %d; tiny-sdxl's UNet architecture and weight gains" % INPAINT_UNET_SEED,
        "otherwise: `time_ids` 6 wide, cross-attention %d). Exported by optimum's" % CROSS_ATTENTION_DIM,
        "`main_export(..., task=\"inpainting\")` from a diffusers `StableDiffusionXLInpaintPipeline` whose",
        "other parts are tiny-sdxl's (rebuilt with its seed and checked against the committed graphs).",
        "",
        "Only `unet/` and `model_index.json` are real files; `text_encoder`, `text_encoder_2`,",
        "`tokenizer`, `tokenizer_2`, `vae_encoder`, `vae_decoder` and `scheduler` are symbolic links to",
        "tiny-sdxl's. The exported copies were compared with tiny-sdxl's before linking: %s." % ", ".join(
            f"{k} {'same' if v else 'DIFFERENT'}" for k, v in report.items()),
        "Loads with optimum's `ORTStableDiffusionXLInpaintPipeline`.",
    ], ort_io(INPAINT), stats,
        "tests/goldens/inputs/init_64.png and mask_64.png, prompt %r, seed 42 (torch generator), 6 steps, "
        "guidance 5.0, strength 1.0; 0..255 units" % PROMPT_A, "--inpaint-only")


def init_picture():
    from PIL import Image

    return Image.open(REPO / "tests" / "goldens" / "inputs" / "init_64.png").convert("RGB")


def mask_image():
    from PIL import Image

    return Image.open(REPO / "tests" / "goldens" / "inputs" / "mask_64.png")


@torch.no_grad()
def check_base_rebuild(pipe):
    """The rebuilt torch parts must be the committed tiny-sdxl graphs' weights."""
    import onnxruntime

    d = check_text_encoders(pipe, BASE)
    lat = np.random.RandomState(0).randn(1, 4, 8, 8).astype(np.float32)
    s = onnxruntime.InferenceSession(str(BASE / "vae_decoder" / "model.onnx"), providers=["CPUExecutionProvider"])
    d["vae_decoder"] = float(np.abs(s.run(None, {"latent_sample": lat})[0]
                                    - pipe.vae.decode(torch.from_numpy(lat)).sample.numpy()).max())
    print("rebuilt tiny-sdxl vs committed ONNX, max |diff|:", d)
    assert max(d.values()) < 1e-4, "the rebuild differs from tiny-sdxl"


# --------------------------------------------------------------------------
# READMEs
# --------------------------------------------------------------------------
def versions():
    import diffusers
    import onnx
    import onnxruntime
    import optimum.version
    import transformers

    return {"torch": torch.__version__, "diffusers": diffusers.__version__,
            "transformers": transformers.__version__, "optimum": optimum.version.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def onnx_sections(folder: Path, ort_info):
    lines = ["## ONNX models", "",
             "As `onnx` states them (element type, shape with symbolic dimensions), and as onnxruntime",
             "reports them (`InferenceSession.get_inputs()/get_outputs()`).", ""]
    info = describe_onnx(folder)
    for name, d in info.items():
        if (folder / name).is_symlink():
            continue
        lines += [f"### {name}/model.onnx (opset {', '.join(d['opset'])}, "
                  f"{(folder / name / 'model.onnx').stat().st_size} bytes)", ""]
        lines += [f"- input  `{s}`" for s in d["inputs"]]
        lines += [f"- output `{s}`" for s in d["outputs"]]
        if name in ort_info:
            lines += ["", "onnxruntime:", ""]
            lines += [f"- input  `{s}`" for s in ort_info[name]["inputs"]]
            lines += [f"- output `{s}`" for s in ort_info[name]["outputs"]]
        lines.append("")
    return lines


def size_lines(folder: Path):
    lines = ["## Files", "", "| path | bytes |", "|---|---|"]
    total = 0
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_symlink():
            lines.append(f"| {rel} | link -> {os.readlink(p)} |")
        elif p.is_file() and not any(q.is_symlink() for q in p.parents if folder in q.parents):
            if p.name == "README.md":
                continue
            total += p.stat().st_size
            lines.append(f"| {rel} | {p.stat().st_size} |")
    lines += ["", f"Real files (README.md aside): {total} bytes.", ""]
    return lines


def write_base_readme(pipe, te_diffs, torch_stats, ort_stats, torch_vs_onnx):
    t1, t2 = TEXT_ENCODER_1, TEXT_ENCODER_2
    lines = [
        "# tiny-sdxl test fixture",
        "",
        "A tiny Stable Diffusion XL (base) pipeline with the real SDXL architecture and **random",
        "weights**, exported to ONNX with optimum exactly like user models are",
        "(`optimum.exporters.onnx.main_export(..., task=\"text-to-image\")` on a saved diffusers",
        "`StableDiffusionXLPipeline`). Not a useful image generator; it exists so tests can run the",
        "whole SDXL pipeline in well under a second per image.",
        "",
        "Generated by (from the repository root, with the venv from `tools/requirements.txt`):",
        "",
        "    python tools/make_tiny_sdxl.py            # or --base-only (this and tiny-sdxl-nozeros)",
        "",
        "Deterministic (torch seed %d, CPU). Do not edit by hand; regenerate, then regenerate the" % SEED,
        "goldens with `python tools/make_sdxl_goldens.py`.",
        "",
        "## Components",
        "",
        "- `model_index.json`: `StableDiffusionXLPipeline`, `force_zeros_for_empty_prompt: true` (a",
        "  `negative_prompt` of None gives zero negative embeddings, pooled included), no",
        "  `add_watermarker` key (diffusers then watermarks only if `invisible-watermark` is installed;",
        "  it is not in the venv).",
        "- `tokenizer`, `tokenizer_2`: CLIP BPE, 49408 tokens, model_max_length 77 (vocab.json and",
        "  merges.txt are links to tiny-sd2's files: the same open-clip-derived vocabulary, so the ids",
        "  are real CLIP ids). As in the real repos, **`tokenizer` pads with `<|endoftext|>` (id 49407)**",
        "  and **`tokenizer_2` pads with `!` (id 0)**. No tokenizer.json (the vocab/merges path).",
        "- `text_encoder`: `CLIPTextModel` (SDXL: CLIP ViT-L, hidden 768, 12 layers): hidden %d," % t1["hidden_size"],
        "  **%d layers**, %d heads, intermediate %d, %s." % (t1["num_hidden_layers"], t1["num_attention_heads"], t1["intermediate_size"], t1["hidden_act"]),
        "- `text_encoder_2`: `CLIPTextModelWithProjection` (SDXL: OpenCLIP bigG, hidden 1280, 32",
        "  layers, projection 1280): hidden %d, **%d layers**, %d heads, intermediate %d, %s," % (
            t2["hidden_size"], t2["num_hidden_layers"], t2["num_attention_heads"], t2["intermediate_size"], t2["hidden_act"]),
        "  **projection_dim %d** (the pooled `text_embeds` width; deliberately not the hidden size)." % t2["projection_dim"],
        "  Both configs: vocab 49408, 77 positions, bos/eos/pad ids 0/2/1 as the real SDXL configs",
        "  (transformers pools at `argmax(input_ids)`, i.e. the first EOS; computed in the graph).",
        "- `unet`: `UNet2DConditionModel` with SDXL base's layout: down %s," % list(BASE_UNET["down_block_types"]),
        "  up %s, block_out_channels %s," % (list(BASE_UNET["up_block_types"]), BASE_UNET["block_out_channels"]),
        "  transformer_layers_per_block %s, attention_head_dim %s, layers_per_block 1 (SDXL: 2), norm groups 8," % (
            BASE_UNET["transformer_layers_per_block"], BASE_UNET["attention_head_dim"]),
        "  linear projection, sample_size 8 (64x64 native), **cross_attention_dim %d** (= %d + %d, the" % (
            CROSS_ATTENTION_DIM, t1["hidden_size"], t2["hidden_size"]),
        "  two encoders' penultimate hidden states concatenated), `addition_embed_type: text_time`,",
        "  `addition_time_embed_dim: %d`, `projection_class_embeddings_input_dim: %d` (= text_embeds" % (
            ADDITION_TIME_EMBED_DIM, BASE_UNET["projection_class_embeddings_input_dim"]),
        "  %d + 6 time ids x %d; SDXL: 2816 = 1280 + 6 x 256)." % (t2["projection_dim"], ADDITION_TIME_EMBED_DIM),
        "- `vae_encoder`, `vae_decoder`: `AutoencoderKL` (tiny-sd2's architecture: 4 blocks, 8x,",
        "  channels (8, 8, 16, 16), 4 latent channels), **scaling_factor %g**, force_upcast true." % VAE_SCALING_FACTOR,
        "- `scheduler`: SDXL base's `scheduler_config.json` verbatim: EulerDiscreteScheduler,",
        "  scaled_linear 0.00085..0.012, 1000 train steps, epsilon, leading spacing, steps_offset 1,",
        "  interpolation linear, no karras sigmas (plus the keys Euler ignores: clip_sample,",
        "  sample_max_value, set_alpha_to_one, skip_prk_steps, trained_betas).",
        "",
        "Weight gains after random init: UNet attn2.to_out x4 and conv_out x1 (tiny-sd2's",
        "`scale_unet_weights`), UNet add_embedding.linear_1 x%g (so the micro-conditioning visibly" % ADD_EMBEDDING_GAIN,
        "matters: see `time_ids_(w,h)_diff` below); the text encoders and VAE as initialised.",
        "",
        "## What the graphs give the pipeline",
        "",
        "- Text encoders: optimum exports SDXL's encoders with `output_hidden_states`, so each has",
        "  `last_hidden_state`, the pooled output (`pooler_output` for encoder 1, `text_embeds` for",
        "  encoder 2) and `hidden_states.0` .. `hidden_states.L` (`L` = its layer count; `.0` is the",
        "  embeddings, `.L` the last layer's output **before** final_layer_norm, which",
        "  `last_hidden_state` is after). diffusers takes `hidden_states[-2]` of each: here",
        "  `hidden_states.%d` of text_encoder (%d layers) and `hidden_states.%d` of text_encoder_2 (%d layers)," % (
            t1["num_hidden_layers"] - 1, t1["num_hidden_layers"], t2["num_hidden_layers"] - 1, t2["num_hidden_layers"]),
        "  concatenated on the last axis (encoder 1 first), and the pooled `text_embeds` of encoder 2.",
        "  (optimum's ORTTextEncoder builds its `hidden_states` list from `.0`..`.L-1` plus",
        "  `last_hidden_state`, so [-2] is `.L-1` there too.) ONNX vs torch, max |diff| over every",
        "  output (prompt %r and \"\"): %s." % (PROMPT_A, ", ".join(f"{k} {v:.2e}" for k, v in te_diffs.items())),
        "- UNet inputs: `sample`, `timestep` (float32 scalar), `encoder_hidden_states`,",
        "  `text_embeds` [batch, %d] and `time_ids` [batch, 6] (float32: original h, w, crop top," % t2["projection_dim"],
        "  left, target h, w).",
        "",
        "## Image statistics (64x96: width 64, height 96; prompt %r, numpy latents seed 42," % PROMPT_A,
        "5 steps, guidance 5.0; 0..255 units)",
        "",
        "Rows ending in `_diff` are the mean |difference| from the first image when one input changes.",
        "torch pipeline vs ONNX pipeline, max |pixel diff| of that image: %g." % torch_vs_onnx,
        "",
        "| stat | torch (StableDiffusionXLPipeline) | onnx (ORTStableDiffusionXLPipeline, CPU) |",
        "|---|---|---|",
    ]
    for k in torch_stats:
        lines.append(f"| {k} | {fmt_stat(torch_stats[k])} | {fmt_stat(ort_stats[k])} |")
    lines.append("")
    lines += onnx_sections(BASE, ort_io(BASE))
    lines += size_lines(BASE)
    lines += ["## Versions", ""] + [f"- {k} {v}" for k, v in versions().items()] + [""]
    (BASE / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print("wrote", BASE.relative_to(REPO))


def write_nozeros_readme():
    lines = [
        "# tiny-sdxl-nozeros",
        "",
        "tiny-sdxl with `force_zeros_for_empty_prompt: false` in `model_index.json` (a copy of",
        "tiny-sdxl's otherwise); every part is a symbolic link to tiny-sdxl's. With CFG and no",
        "negative prompt (None), diffusers then encodes the empty string \"\" through both text",
        "encoders (both tokenizers, each with its own padding) instead of using zeros (the SDXL",
        "refiner ships `false`). Made by `python tools/make_tiny_sdxl.py` (or `--base-only`).",
        "",
    ]
    lines += size_lines(NOZEROS)
    (NOZEROS / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print("wrote", NOZEROS.relative_to(REPO))


def write_part_readme(dst: Path, title: str, intro, ort_info, stats, stats_title, flag):
    lines = [f"# {title}", ""] + list(intro) + [
        "",
        "Generated by (from the repository root, with the venv from `tools/requirements.txt`):",
        "",
        "    python tools/make_tiny_sdxl.py %s" % flag,
        "",
        "(the full `python tools/make_tiny_sdxl.py` run makes it too). Deterministic (CPU).",
        "",
        f"## Checks ({stats_title})",
        "",
        "| stat | value |",
        "|---|---|",
    ]
    for k, v in stats.items():
        lines.append(f"| {k} | {fmt_stat(v)} |")
    lines.append("")
    lines += onnx_sections(dst, ort_info)
    lines += size_lines(dst)
    lines += ["## Versions", ""] + [f"- {k} {v}" for k, v in versions().items()] + [""]
    (dst / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print("wrote", dst.relative_to(REPO))


def main():
    torch.set_grad_enabled(False)
    if "--check-full" in sys.argv:
        full_parts("meta")
        print("full-size SDXL parts: SDXL base 1.0's parameter counts")
        return
    only = {a for a in sys.argv[1:] if a.startswith("--")}
    unknown = only - {"--base-only", "--refiner-only", "--inpaint-only"}
    if unknown:
        sys.exit(f"unknown options {sorted(unknown)}")
    if not only or "--base-only" in only:
        make_base()
    if not only or "--refiner-only" in only:
        make_refiner()
    if not only or "--inpaint-only" in only:
        make_inpaint()
    for f in (BASE, NOZEROS, REFINER, INPAINT):
        if f.exists():
            real = sum(p.stat().st_size for p in f.rglob("*") if p.is_file() and not p.is_symlink()
                       and not any(q.is_symlink() for q in p.parents if f in q.parents))
            print(f"{f.relative_to(REPO)}: {real} bytes in real files")


if __name__ == "__main__":
    main()
