#!/usr/bin/env python3
"""Goldens for LoRA chosen per call: tests/goldens/lora.json and tests/goldens/lora/*.png.

Run from the repository root, after tools/make_lora_fixtures.py:

    /work/venv/bin/python tools/make_lora_goldens.py

(`... make_lora_goldens.py CASE...` makes only the named cases, without writing lora.json.) It
also writes the "## LoRA" section of tests/goldens/README.md. About a minute on 2 cores.

For each case the reference is diffusers' own LoRA path on the tiny torch pipeline, rebuilt in
memory exactly as tools/make_tiny_model.py (tiny-sd2) and tools/make_tiny_sdxl.py (tiny-sdxl)
build it: `load_lora_weights` (one adapter per file), `set_adapters` when there are two,
`fuse_lora(lora_scale=...)`, `unload_lora_weights` (the fused weights stay). The fused weights
are checked against W + s * (alpha / r) * B @ A computed from the file (make_lora_fixtures.
check_fused). The fused pipeline is then saved and exported by optimum exactly as the fixtures
were (`save_pretrained` + `optimum.exporters.onnx.main_export(task="text-to-image")`) to a
temporary folder, and the image made by optimum's ORTStableDiffusionPipeline /
ORTStableDiffusionXLPipeline on the CPU provider with numpy latents, as tools/make_goldens.py
does (`make_goldens.generate_with`: `RandomState(seed).randn(count, 4, h/8, w/8)` as float32,
`latents=`; the fixture's own scheduler; pixels `(x * 255).round()` as uint8).

Before any LoRA, the unfused rebuilt pipelines are exported the same way and must give the
committed goldens byte for byte (tiny-sd2: images/pndm_numpy_5.png, which is also the `sd2_none`
case's settings; tiny-sdxl: sdxl/base_euler_numpy_5.png): the base is the fixture's model. The
script fails loudly otherwise.

lora.json: `{"images": [...], "wrong": [...]}`; each entry the images.json schema (name, model,
prompt, negative_prompt, width, height, steps, guidance, seed, count, scheduler (null: the
fixture's own, PNDM for tiny-sd2 and Euler for tiny-sdxl), generator "numpy", eta, files) plus
`loras: [{"file": "loras/<x>.safetensors" (relative to tests/fixtures), "scale"}]`, and for
information `max_abs_diff_vs_torch` (0..255: the ORT image against diffusers' torch pipeline with
the same fused weights and latents) and `mean_abs_diff_vs_none` (0..255: how much the LoRA moves
the image against the same case without it). `wrong` holds images a careless implementation
would make, for the sensitivity test: `sd2_kohya_alpha_ignored` (sd2_kohya.safetensors with
scale alpha/r ignored, i.e. 1 instead of 0.5) and `sd2_unet_s1_qk_only` (sd2_unet.safetensors at
1.0 applied to to_q/to_k only, a missed target); each names the case it is a wrong version of
(`wrong_of`) and how (`how`). Also `sd2_te_unet_te_missed` (sd2_te_unet at 0.8 on the UNet only) and
`sd2_te_unet_metadata_ignored` (sd2_te_unet at 0.8 read without its adapter metadata, i.e.
lora_alpha = r). Each wrong image is made like the right ones: the altered file is written to a
temporary folder and loaded, fused, checked and exported the same way.
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
import make_lora_fixtures as lf  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
GOLDENS = REPO / "tests" / "goldens"
LORAS = FIXTURES / "loras"

# The settings of images.json's pndm_numpy_5 (tiny-sd2) and sdxl.json's base_euler_numpy_5
# (tiny-sdxl): the no-LoRA images must be those goldens.
SD2 = dict(model="tiny-sd2", prompt="a snowy mountain village", negative_prompt="blurry", width=64,
           height=64, steps=5, guidance=7.5, seed=200, count=1, scheduler=None, generator="numpy", eta=0.0)
SD2_BASE_GOLDEN = "images/pndm_numpy_5.png"
SDXL = dict(model="tiny-sdxl", prompt="a photo of an astronaut riding a horse on mars",
            negative_prompt=None, width=64, height=64, steps=5, guidance=5.0, seed=42, count=1,
            scheduler=None, generator="numpy", eta=0.0)
SDXL_BASE_GOLDEN = "sdxl/base_euler_numpy_5.png"

# name, settings, [(file, scale)], how the LoRAs are applied
CASES = [
    ("sd2_none", SD2, [], None),
    ("sd2_unet_s1", SD2, [("sd2_unet", 1.0)], None),
    ("sd2_unet_s05", SD2, [("sd2_unet", 0.5)], None),
    ("sd2_te_unet", SD2, [("sd2_te_unet", 0.8)], None),
    ("sd2_two", SD2, [("sd2_unet", 0.7), ("sd2_te_unet", 0.6)], None),
    ("sd2_kohya", SD2, [("sd2_kohya", 1.0)], None),
    ("sdxl", SDXL, [("sdxl", 0.9)], None),
]
WRONG = [
    ("sd2_kohya_alpha_ignored", "sd2_kohya", "alpha_ignored",
     "sd2_kohya.safetensors at 1.0 with every .alpha set to the rank (scale 1 instead of alpha/r = 0.5)"),
    ("sd2_unet_s1_qk_only", "sd2_unet_s1", "qk_only",
     "sd2_unet.safetensors at 1.0 applied to to_q and to_k only (to_v and to_out.0 missed)"),
    ("sd2_te_unet_te_missed", "sd2_te_unet", "te_missed",
     "sd2_te_unet.safetensors at 0.8 on the UNet only (the text encoder's LoRA missed)"),
    ("sd2_te_unet_metadata_ignored", "sd2_te_unet", "metadata_ignored",
     "sd2_te_unet.safetensors at 0.8 with its lora_adapter_metadata ignored (lora_alpha = r: "
     "scale 1 instead of 0.5 on the UNet and 2.0 on the text encoder)"),
]


def lora_path(name):
    return LORAS / f"{name}.safetensors"


def read_file(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def alpha_ignored(t, meta):
    """kohya: every .alpha set to the module's rank (scale 1 instead of alpha/r)."""
    return {k: (torch.tensor(float(t[k[:-6] + ".lora_down.weight"].shape[0])) if k.endswith(".alpha") else v)
            for k, v in t.items()}, meta


def qk_only(t, meta):
    """Only the to_q / to_k modules (to_v and to_out.0 missed)."""
    return {k: v for k, v in t.items() if ".to_q." in k or ".to_k." in k}, meta


def te_missed(t, meta):
    """The UNet part only (the text encoder's LoRA missed), adapter metadata kept."""
    return {k: v for k, v in t.items() if k.startswith("unet.")}, meta


def metadata_ignored(t, meta):
    """No adapter metadata: lora_alpha = r (scale 1) instead of the metadata's alpha/r."""
    return t, {"format": "pt"}


VARIANTS = {"alpha_ignored": alpha_ignored, "qk_only": qk_only, "te_missed": te_missed,
            "metadata_ignored": metadata_ignored}


def fused_pipeline(kind, loras, variant, workdir):
    """The rebuilt torch pipeline with `loras` fused the diffusers way, checked against the math.
    `variant`: a wrong version of the (single) file, written to `workdir` and loaded the same way."""
    from safetensors.torch import save_file

    pipe = lf.build(kind, workdir)
    if not loras:
        return pipe
    before = lf.base_weights(pipe)
    paths = [(lora_path(n), s) for n, s in loras]
    if variant is not None:
        (path, scale), = paths
        t, meta = VARIANTS[variant](*read_file(path))
        wrong = workdir / f"{variant}.safetensors"
        save_file(t, str(wrong), metadata=meta)
        paths = [(wrong, scale)]
    want = lf.expected_weights(pipe, paths)
    if len(paths) == 1:
        lf.load_and_fuse(pipe, [paths[0][0]], lora_scale=paths[0][1])
    else:
        lf.load_and_fuse(pipe, [p for p, _ in paths], weights=[s for _, s in paths], lora_scale=1.0)
    lf.check_fused(pipe, before, want, variant or "+".join(f"{n}@{s}" for n, s in loras))
    return pipe


def export(pipe, workdir: Path, name: str) -> Path:
    """As tools/make_tiny_model.py exported tiny-sd2 (and make_tiny_sdxl.export tiny-sdxl)."""
    from optimum.exporters.onnx import main_export

    src = workdir / f"{name}-src"
    pipe.save_pretrained(src, safe_serialization=True)
    out = workdir / f"{name}-onnx"
    main_export(str(src), output=str(out), task="text-to-image", device="cpu", do_validation=False)
    shutil.rmtree(src)
    return out


def render(pipe, case):
    from make_goldens import generate_with

    return generate_with(pipe, pipe.scheduler.config, case["scheduler"], case["generator"],
                         case["prompt"], case["negative_prompt"], case["width"], case["height"],
                         case["steps"], case["guidance"], case["seed"], case["count"], case["eta"])


def ort_pipeline(kind, folder):
    from optimum.onnxruntime import ORTStableDiffusionPipeline, ORTStableDiffusionXLPipeline

    cls = ORTStableDiffusionPipeline if kind == "sd2" else ORTStableDiffusionXLPipeline
    p = cls.from_pretrained(str(folder), provider="CPUExecutionProvider")
    p.set_progress_bar_config(disable=True)
    return p


def golden_png(rel):
    from PIL import Image

    return np.asarray(Image.open(GOLDENS / rel).convert("RGB"))


def same_graphs(folder: Path, fixture: Path):
    """The exported parts have the committed fixture's nodes and initializer values."""
    import onnx
    from onnx import numpy_helper

    parts = sorted(p.parent.name for p in fixture.glob("*/model.onnx"))
    for part in parts:
        ga = onnx.load(str(folder / part / "model.onnx")).graph
        gb = onnx.load(str(fixture / part / "model.onnx")).graph
        ia = {i.name: numpy_helper.to_array(i) for i in ga.initializer}
        ib = {i.name: numpy_helper.to_array(i) for i in gb.initializer}
        if ia.keys() != ib.keys() or not all(np.array_equal(ia[k], ib[k]) for k in ia):
            raise SystemExit(f"the rebuilt, exported {part} has other weights than {fixture.name}'s")
        if [n.SerializeToString() for n in ga.node] != [n.SerializeToString() for n in gb.node]:
            raise SystemExit(f"the rebuilt, exported {part} has other nodes than {fixture.name}'s")
    print(f"[base] exported {', '.join(parts)}: the nodes and initializers of {fixture.relative_to(REPO)}")


def make_image(kind, settings, loras, variant, workdir, tag, fixture=None):
    """(ORT image [count, h, w, 3] uint8, max |ORT - torch|); `fixture`: check the export's
    graphs against that folder's first."""
    pipe = fused_pipeline(kind, loras, variant, workdir / f"{tag}-build")
    pipe.set_progress_bar_config(disable=True)
    torch_img = render(pipe, settings)
    folder = export(pipe, workdir, tag)
    del pipe
    if fixture is not None:
        same_graphs(folder, fixture)
    ort_img = render(ort_pipeline(kind, folder), settings)
    shutil.rmtree(folder)
    diff = int(np.abs(ort_img.astype(np.int16) - torch_img.astype(np.int16)).max())
    return ort_img, diff


def save(name, imgs):
    from PIL import Image

    files = []
    for i, im in enumerate(imgs):
        rel = f"lora/{name}.png" if len(imgs) == 1 else f"lora/{name}-{i}.png"
        Image.fromarray(im).save(GOLDENS / rel, optimize=False)
        files.append(rel)
    return files


def entry(name, settings, loras, files, diff, mean_vs_none):
    e = {"name": name, **settings, "files": files,
         "loras": [{"file": f"loras/{n}.safetensors", "scale": s} for n, s in loras],
         "max_abs_diff_vs_torch": diff}
    if mean_vs_none is not None:
        e["mean_abs_diff_vs_none"] = round(mean_vs_none, 3)
    return e


def mean_diff(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


README_HEADING = "## LoRA"
README = """## LoRA

Written by `python tools/make_lora_goldens.py` (this section too) after
`python tools/make_lora_fixtures.py`, from the repository root with the venv of
`tools/requirements.txt` (peft and safetensors included):

    /work/venv/bin/python tools/make_lora_fixtures.py    # tests/fixtures/loras/*.safetensors
    /work/venv/bin/python tools/make_lora_goldens.py     # tests/goldens/lora.json, lora/*.png

Both are deterministic (byte for byte) and take about a minute on 2 cores; no fixture is
rebuilt (the tiny torch pipelines are rebuilt in memory). `make_lora_goldens.py CASE...` makes
only the named cases (into lora/, without writing lora.json).

- `tests/fixtures/loras/`: random-weight LoRA files (A = randn(r, in) / sqrt(in), B = randn(out,
  r) / sqrt(r), numpy RandomState per file; B is not zero): `sd2_unet` (PEFT keys
  `unet.<module>.lora_A.weight` [r, in] / `.lora_B.weight` [out, r], rank 4, to_q/to_k/to_v/
  to_out.0, no adapter metadata), `sd2_te_unet` (PEFT, rank 8, text encoder q/k/v/out_proj and
  UNet to_q/k/v/out.0, ff.net.0.proj, ff.net.2, proj_in, proj_out; safetensors
  `__metadata__["lora_adapter_metadata"]` with `unet.lora_alpha` 4 and `text_encoder.lora_alpha`
  16, so diffusers scales the UNet by 0.5 and the text encoder by 2.0), `sd2_kohya` (kohya
  `lora_unet_*` / `lora_te_*` with `.lora_down.weight`, `.lora_up.weight`, `.alpha`; rank 4,
  alpha 2: scale 0.5), `sdxl` (PEFT `unet.`, `text_encoder.`, `text_encoder_2.`, rank 4, no
  metadata), and the broken `not_safetensors`, `nothing_matches`, `bad_rank`. See
  tools/make_lora_fixtures.py's docstring.
- `lora.json`: `images` and `wrong`, each entry the `images.json` schema (`scheduler: null`:
  the fixture's own, PNDM / Euler) plus `loras: [{"file", "scale"}]` (paths relative to
  tests/fixtures), `max_abs_diff_vs_torch` and `mean_abs_diff_vs_none` (0..255, for
  information). The reference: diffusers' `load_lora_weights` (one adapter per file),
  `set_adapters(names, adapter_weights=scales)` for two files, `fuse_lora(lora_scale)`,
  `unload_lora_weights`; the fused weights checked to be W + scale * (alpha / r) * B @ A; then
  `save_pretrained` + optimum `main_export(task="text-to-image")` and optimum's
  `ORTStableDiffusionPipeline` / `ORTStableDiffusionXLPipeline` with numpy latents as in
  `images.json`. The unfused rebuilt pipelines exported the same way are checked to have the
  committed fixtures' nodes and initializers and to give `images/pndm_numpy_5.png` and
  `sdxl/base_euler_numpy_5.png` byte for byte (`sd2_none` is that image).
  `wrong` (each with `wrong_of` and `how`): `sd2_kohya_alpha_ignored`, `sd2_unet_s1_qk_only`
  (to_v/to_out.0 missed), `sd2_te_unet_te_missed` (text encoder LoRA missed),
  `sd2_te_unet_metadata_ignored` (lora_alpha = r); `mean_abs_diff_vs_right` says how far each is
  from its right image.
"""


def write_readme():
    path = GOLDENS / "README.md"
    old = path.read_text(encoding="utf-8")
    if README_HEADING + "\n" in old:
        start = old.index(README_HEADING + "\n")
        nxt = old.find("\n## ", start + len(README_HEADING))
        old = old[:start].rstrip("\n") + ("\n" + old[nxt:] if nxt != -1 else "")
    path.write_text(old.rstrip("\n") + "\n\n" + README, encoding="utf-8")


def main():
    only = sys.argv[1:]  # case names, to make a few while developing (writes nothing then)
    out_dir = GOLDENS / "lora"
    if not only:
        if out_dir.exists():
            shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = {"tiny-sd2": "sd2", "tiny-sdxl": "sdxl"}
    images, wrong, nones = [], [], {}
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        # The bases: unfused rebuilt pipelines, exported, must be the committed goldens.
        wanted = {c[0]: c[1]["model"] for c in CASES}
        wanted.update({w[0]: "tiny-sd2" for w in WRONG})
        models = {wanted[n] for n in (only or wanted)}
        for kind, settings, golden in (("sd2", SD2, SD2_BASE_GOLDEN), ("sdxl", SDXL, SDXL_BASE_GOLDEN)):
            if settings["model"] not in models:
                continue
            img, diff = make_image(kind, settings, [], None, td, f"{kind}-base",
                                   fixture=FIXTURES / settings["model"])
            want = golden_png(golden)
            if not np.array_equal(img[0], want):
                raise SystemExit(f"the rebuilt, exported {kind} pipeline does not reproduce {golden}: "
                                 f"max |diff| {np.abs(img[0].astype(int) - want.astype(int)).max()}")
            print(f"[base {kind}] export of the rebuilt pipeline reproduces {golden} byte for byte "
                  f"(torch vs ORT max |diff| {diff})")
            nones[settings["model"]] = (img, diff)
        for name, settings, loras, variant in CASES:
            if only and name not in only:
                continue
            kind = kinds[settings["model"]]
            if not loras:
                img, diff = nones[settings["model"]]
            else:
                img, diff = make_image(kind, settings, loras, variant, td, name)
            none = nones[settings["model"]][0]
            m = mean_diff(img, none) if loras else None
            images.append(entry(name, settings, loras, save(name, img), diff, m))
            print(f"  {name:28s} torch-vs-ORT max {diff:3d}  mean |diff| vs no LoRA {m if m is None else round(m, 2)}")
        for name, of, variant, how in WRONG:
            if only and name not in only:
                continue
            _, settings, loras, _ = next(c for c in CASES if c[0] == of)
            img, diff = make_image("sd2", settings, loras, variant, td, name)
            e = entry(name, settings, loras, save(name, img), diff, mean_diff(img, nones["tiny-sd2"][0]))
            right = next((x for x in images if x["name"] == of), None)
            if right is not None:
                e["mean_abs_diff_vs_right"] = round(mean_diff(img, golden_png(right["files"][0])[None]), 3)
            e.update({"wrong_of": of, "how": how})
            wrong.append(e)
            print(f"  {name:28s} torch-vs-ORT max {diff:3d}  mean |diff| vs {of} {e.get('mean_abs_diff_vs_right')}")
    if only:
        print("(partial run: lora.json not written)")
        return
    write_json(GOLDENS / "lora.json", {"images": images, "wrong": wrong})
    write_readme()
    print("wrote", (GOLDENS / "lora.json").relative_to(REPO), "and README.md's LoRA section")


if __name__ == "__main__":
    main()
