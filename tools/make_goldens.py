#!/usr/bin/env python3
"""Write the reference outputs ("goldens") the Rust tests compare against.

Run from the repository root, after tools/make_tiny_model.py:

    /work/venv/bin/python tools/make_goldens.py

Writes, deterministically:

  tests/goldens/images.json, tests/goldens/images/*.png
      end-to-end images from optimum's ORTStableDiffusionPipeline (CPU provider) on
      tests/fixtures/tiny-sd2, with latents drawn by numpy's legacy RandomState.
  tests/goldens/tokens.json
      CLIP token ids (77, padded with id 0) for awkward prompts where transformers'
      slow CLIPTokenizer (with ftfy) and CLIPTokenizerFast agree.
  tests/goldens/tokens_ftfy_repairs.json
      prompts where they disagree (ftfy repairs text the fast tokenizer leaves alone).
  tests/goldens/clip_tokenizer.json
      the fast tokenizer's tokenizer.json built from the fixture's vocab/merges.
  tests/goldens/numpy_randn.json
      numpy legacy normal draws (RandomState(seed).randn) as float32 bit patterns.
  tests/goldens/pndm_timesteps.json
      diffusers' PNDMScheduler timesteps for the fixture's scheduler config.
  tests/goldens/edit.json, edit/*.png, inputs/*.png, img2img_schedule.json,
  add_noise_later.json, guidance_embedding.json, taesd.json, taesd/*.png, rescale_cfg.json
      img2img / inpaint / turbo / guidance_rescale / LCM images and the scheduler-level
      pieces behind them, TAESD previews (see tests/goldens/README.md). Only these (and the
      README): `python tools/make_goldens.py --edit-only`, after
      `python tools/make_tiny_model.py --edit-fixtures-only`.
  tests/goldens/safety.json, safety/*.png, clip_preprocess.json, inputs/clip_*.png
      SD 1.x safety checker images and flags (tests/fixtures/tiny-sd1-safety) and CLIP image
      preprocessing. Only these (and the README): `python tools/make_goldens.py --safety-only`,
      after `python tools/make_tiny_model.py --safety-only`.
  tests/goldens/cuda_images.json, cuda/*.png, cuda_scheduler_noise.json
      `--rng torch-cuda` images and stochastic-scheduler trajectories, with draws from
      tools/cuda_randn.py. Only these (and the README): `python tools/make_cuda_goldens.py`.
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

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "tiny-sd2"
GOLDENS = REPO / "tests" / "goldens"
MAX_LEN = 77


def write_json(path: Path, obj, indent=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


# --------------------------------------------------------------------------
# a) images
# --------------------------------------------------------------------------
LONG_PROMPT = (
    "a highly detailed oil painting of an ancient castle on a misty hill at sunrise, "
    "golden light, dramatic clouds, flock of birds, winding river, lush green forest, "
    "tiny village with red roofs, cobblestone road, horse drawn carriage, "
) * 3

IMAGE_CASES = [
    # name, prompt, negative, width, height, steps, guidance, seed, count
    ("basic", "a photo of an astronaut riding a horse on mars", None, 64, 64, 10, 7.5, 42, 1),
    ("negative", "a red cube on a wooden table", "blurry, low quality", 64, 64, 8, 7.5, 7, 1),
    ("wide", "a watercolor landscape with mountains", None, 96, 64, 6, 5.0, 1234, 1),
    ("tall", "portrait of a cat wearing a hat", "dog", 64, 96, 7, 9.0, 2024, 1),
    ("noguidance_count2", "a bowl of fruit", None, 64, 64, 5, 1.0, 99, 2),
    ("longprompt", LONG_PROMPT, None, 64, 64, 6, 7.5, 3, 1),
    ("onestep", "a tree", None, 64, 64, 1, 7.5, 0, 1),
    ("maxseed", "a lighthouse at night", None, 64, 64, 4, 7.5, 4294967295, 1),
    ("negative_count3", "a small house by the sea", "fog", 64, 64, 3, 7.5, 5, 3),
    ("empty_prompt", "", None, 64, 64, 4, 7.5, 11, 1),
]


def generate(pipe, prompt, negative, width, height, steps, guidance, seed, count, output_type="np"):
    """A case of IMAGE_CASES: the model's own scheduler and numpy latents."""
    return generate_with(pipe, pipe.scheduler.config, None, "numpy", prompt, negative, width,
                         height, steps, guidance, seed, count, 0.0, output_type)


# Scheduler x generator cases, each through optimum's pipeline with
# `pipe.scheduler = <Class>.from_config(pipe.scheduler.config, **extra)`.
# name, model, scheduler, generator, prompt, negative, width, height, steps, guidance, seed, count, eta
def scheduler_image_cases():
    from make_scheduler_goldens import CLASSES

    cases = []
    for k, sched in enumerate(CLASSES):
        slug = sched.replace("+", "p")
        cases += [
            (f"{slug}_numpy_1", "tiny-sd2", sched, "numpy", "a red apple", None, 64, 64, 1, 7.5, 100 + k, 1, 0.0),
            (f"{slug}_numpy_5", "tiny-sd2", sched, "numpy", "a snowy mountain village", "blurry", 64, 64, 5, 7.5, 200 + k, 1, 0.0),
            (f"{slug}_torch_4", "tiny-sd2", sched, "torch", "a castle in the clouds", None, 64, 64, 4, 6.0, 300 + k, 1, 0.0),
        ]
    cases += [
        ("ddim_numpy_eta", "tiny-sd2", "ddim", "numpy", "a fox in the forest", None, 64, 64, 6, 7.5, 17, 1, 0.5),
        ("ddim_torch_eta", "tiny-sd2", "ddim", "torch", "a fox in the forest", None, 64, 64, 5, 7.5, 18, 1, 1.0),
        ("eulera_numpy_count2", "tiny-sd2", "euler-a", "numpy", "two cats", None, 64, 64, 4, 7.5, 21, 2, 0.0),
        ("eulera_torch_count2", "tiny-sd2", "euler-a", "torch", "two cats", None, 64, 64, 4, 7.5, 22, 2, 0.0),
        ("euler_torch_wide", "tiny-sd2", "euler", "torch", "a wide beach", None, 96, 64, 3, 7.5, 2**40 + 5, 1, 0.0),
        ("dpmpp2msde_torch_noguidance", "tiny-sd2", "dpm++2m-sde", "torch", "a bridge", None, 64, 64, 5, 1.0, 23, 1, 0.0),
        ("v_default_numpy_5", "tiny-sd2-v", None, "numpy", "a violin on a chair", None, 64, 64, 5, 7.5, 31, 1, 0.0),
        ("v_default_torch_4", "tiny-sd2-v", None, "torch", "a violin on a chair", "dark", 64, 64, 4, 7.5, 32, 1, 0.0),
        ("v_euler_numpy_5", "tiny-sd2-v", "euler", "numpy", "a sailboat", None, 64, 64, 5, 7.5, 33, 1, 0.0),
        ("v_dpmpp2mkarras_torch_6", "tiny-sd2-v", "dpm++2m-karras", "torch", "a sailboat", None, 64, 64, 6, 7.5, 34, 1, 0.0),
        ("v_eulera_torch_3", "tiny-sd2-v", "euler-a", "torch", "a sailboat", None, 64, 64, 3, 7.5, 35, 1, 0.0),
        ("v_pndm_numpy_4", "tiny-sd2-v", "pndm", "numpy", "a sailboat", None, 64, 64, 4, 7.5, 36, 1, 0.0),
        # Older/converted export types: int64 [1] timestep, float16 VAE decoder.
        ("legacy_pndm_numpy_10", "tiny-sd2-legacy", None, "numpy",
         "a photo of an astronaut riding a horse on mars", None, 64, 64, 10, 7.5, 42, 1, 0.0),
        ("legacy_eulera_torch_count2", "tiny-sd2-legacy", "euler-a", "torch", "two cats", "fog",
         64, 64, 4, 7.5, 41, 2, 0.0),
        ("legacy_heun_numpy_wide", "tiny-sd2-legacy", "heun", "numpy", "a long train", None,
         96, 64, 3, 7.5, 43, 1, 0.0),
    ]
    return cases


def generate_with(pipe, base_config, sched, generator, prompt, negative, width, height, steps,
                  guidance, seed, count, eta, output_type="np"):
    """One image case with any scheduler and either generator.

    numpy: latents from RandomState(seed) (float64 -> float32), and every randn_tensor call
    of the scheduler (stochastic steps) continues that same stream. torch: a CPU
    torch.Generator seeded with `seed` passed to the pipeline, which draws the latents and
    then each step's noise, in diffusers' order.
    """
    import diffusers
    from make_scheduler_goldens import CLASSES

    if sched is not None:
        class_name, extra = CLASSES[sched]
        pipe.scheduler = getattr(diffusers, class_name).from_config(base_config, **extra)
    else:
        pipe.scheduler = type(pipe.scheduler).from_config(base_config)
    module = sys.modules[type(pipe.scheduler).__module__]
    original = getattr(module, "randn_tensor", None)
    kwargs = {}
    if generator == "numpy":
        # float64 draw in C order, then cast: what the Rust side must reproduce.
        rs = np.random.RandomState(seed)
        lat = rs.randn(count, 4, height // 8, width // 8).astype(np.float32)
        kwargs["latents"] = torch.from_numpy(lat)
        if original is not None:
            module.randn_tensor = lambda shape, *a, **k: torch.from_numpy(rs.randn(*shape).astype(np.float32))
    else:
        kwargs["generator"] = torch.Generator("cpu").manual_seed(seed)
    try:
        out = pipe(
            prompt=prompt,
            negative_prompt=negative,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance,
            num_images_per_prompt=count,
            eta=eta,
            output_type=output_type,
            **kwargs,
        ).images
    finally:
        if original is not None:
            module.randn_tensor = original
    if output_type != "np":
        return out
    images = np.asarray(out)
    assert images.shape == (count, height, width, 3), images.shape
    # Same as diffusers VaeImageProcessor.numpy_to_pil (the image is already
    # denormalised and clamped to [0, 1] by postprocess()).
    return (images * 255).round().astype("uint8")


def make_scheduler_images():
    from PIL import Image
    from optimum.onnxruntime import ORTStableDiffusionPipeline

    pipes = {}
    entries = []
    for case in scheduler_image_cases():
        name, model, sched, gen, prompt, neg, w, h, steps, g, seed, count, eta = case
        if model not in pipes:
            pipe = ORTStableDiffusionPipeline.from_pretrained(
                str(FIXTURE.parent / model), provider="CPUExecutionProvider")
            pipe.set_progress_bar_config(disable=True)
            pipes[model] = (pipe, pipe.scheduler.config)
        pipe, base_config = pipes[model]
        imgs = generate_with(pipe, base_config, sched, gen, prompt, neg, w, h, steps, g, seed, count, eta)
        files = []
        for i in range(count):
            fname = f"images/{name}.png" if count == 1 else f"images/{name}-{i}.png"
            Image.fromarray(imgs[i]).save(GOLDENS / fname, optimize=False)
            files.append(fname)
        entries.append({
            "name": name, "model": model, "prompt": prompt, "negative_prompt": neg,
            "width": w, "height": h, "steps": steps, "guidance": g, "seed": seed,
            "count": count, "scheduler": sched, "generator": gen, "eta": eta, "files": files,
        })
        f = imgs.astype(np.float64)
        print(f"  {name:28s} {type(pipe.scheduler).__name__:32s} mean={f.mean():.1f} std={f.std():.1f}")
    return entries


def make_images():
    from PIL import Image
    from optimum.onnxruntime import ORTStableDiffusionPipeline

    pipe = ORTStableDiffusionPipeline.from_pretrained(str(FIXTURE), provider="CPUExecutionProvider")
    pipe.set_progress_bar_config(disable=True)
    print("pipeline:", type(pipe).__name__, "scheduler:", type(pipe.scheduler).__name__,
          "init_noise_sigma:", pipe.scheduler.init_noise_sigma)

    img_dir = GOLDENS / "images"
    if img_dir.exists():
        shutil.rmtree(img_dir)
    img_dir.mkdir(parents=True)

    entries = []
    results = {}
    for name, prompt, neg, w, h, steps, g, seed, count in IMAGE_CASES:
        imgs = generate(pipe, prompt, neg, w, h, steps, g, seed, count)
        results[name] = imgs
        files = []
        for i in range(count):
            fname = f"images/{name}.png" if count == 1 else f"images/{name}-{i}.png"
            Image.fromarray(imgs[i]).save(GOLDENS / fname, optimize=False)
            files.append(fname)
        entries.append({
            "name": name,
            "prompt": prompt,
            "negative_prompt": neg,
            "width": w,
            "height": h,
            "steps": steps,
            "guidance": g,
            "seed": seed,
            "count": count,
            "scheduler": "pndm",
            "generator": "numpy",
            "eta": 0.0,
            "model": "tiny-sd2",
            "files": files,
        })
        f = imgs.astype(np.float64)
        print(f"  {name:18s} {w}x{h} steps={steps} g={g} seed={seed} count={count}: "
              f"mean={f.mean():.1f} std={f.std():.1f}")
    entries += make_scheduler_images()
    write_json(GOLDENS / "images.json", entries, indent=2)

    # PNGs must decode to exactly the arrays.
    for e in entries:
        if e["name"] not in results:
            continue
        for i, fname in enumerate(e["files"]):
            back = np.asarray(Image.open(GOLDENS / fname).convert("RGB"))
            assert np.array_equal(back, results[e["name"]][i]), fname

    # Sanity checks (printed, not stored).
    name, prompt, neg, w, h, steps, g, seed, count = IMAGE_CASES[0]
    basic = results["basic"].astype(np.float64)
    g74 = generate(pipe, prompt, neg, w, h, steps, 7.4, seed, count).astype(np.float64)
    print(f"sanity: mean |basic(g=7.5) - basic(g=7.4)| = {np.abs(basic - g74).mean():.4f} (0..255 units)")
    s43 = generate(pipe, prompt, neg, w, h, steps, g, 43, count).astype(np.float64)
    print(f"sanity: mean |basic(seed 42) - basic(seed 43)| = {np.abs(basic - s43).mean():.4f}")
    pil = generate(pipe, prompt, neg, w, h, steps, g, seed, count, output_type="pil")
    assert np.array_equal(np.asarray(pil[0]), results["basic"][0]), "output_type=pil differs from np path"
    print("sanity: output_type='pil' matches (np*255).round().astype(uint8)")
    # The pipeline multiplies the given latents by init_noise_sigma (1.0 for PNDM) and
    # does not otherwise touch them; in-place modification would be visible here.
    again = generate(pipe, prompt, neg, w, h, steps, g, seed, count)
    assert np.array_equal(again, results["basic"]), "pipeline is not deterministic"
    print("sanity: rerun of basic is bit-identical")
    print(f"sanity: std across basic image = {basic.std():.2f}, "
          f"saturated fraction = {((basic == 0) | (basic == 255)).mean():.4f}")
    return entries


# --------------------------------------------------------------------------
# b) tokens
# --------------------------------------------------------------------------
WORDS75 = (
    "a red cat and a blue dog sit on the green grass near the old house while the "
    "small bird sings in the tall tree and the warm sun shines over the quiet lake "
    "where a white boat floats under the clear sky as the young girl reads a good "
    "book about the big city with many people who walk on the long road at night "
    "under the bright moon and the cold wind blows"
).split()
assert len(WORDS75) == 75, len(WORDS75)
PROMPT_75_WORDS = " ".join(WORDS75)
PROMPT_76_WORDS = PROMPT_75_WORDS + " stars"
PROMPT_200_TOKENS = " ".join(["castle"] * 200)
LONG_MIXED = ", ".join(["masterpiece", "best quality", "ultra-detailed", "8k", "hdr",
                        "cinematic lighting", "sharp focus"] * 12)


def token_corpus() -> list[str]:
    c = [
        # plain
        "a photo of an astronaut riding a horse",
        "a photo of an astronaut riding a horse on mars",
        "hello world",
        "the quick brown fox jumps over the lazy dog",
        "cat",
        "a",
        # accents
        "café au lait",
        "naïve résumé from Zürich",
        "crème brûlée à la française",
        "cafe\u0301 with combining acute",
        "señor niño año",
        "Øresund smørrebrød ångström",
        # case
        "UPPER CASE PROMPT",
        "MiXeD CaSe PrOmPt",
        "ÉCOLE ÇA ÜBER",
        # whitespace
        "multiple    spaces   between   words",
        "tabs\tand\ttabs",
        "new\nlines\nhere",
        "  leading and trailing spaces  ",
        "\r\nwindows line end\r\n",
        "",
        "   ",
        "\t\n",
        # punctuation
        "!!!",
        "...",
        "a,b;c",
        "wow!!! really??? yes...",
        "\"double quoted\" and 'single quoted'",
        "don't it's I'M we'll they'd you've we're",
        "DON'T STOP BELIEVIN'",
        "rock'n'roll",
        "(parentheses) [brackets] {braces} <angles>",
        "(masterpiece:1.2), (best quality), [worst quality]",
        "a-b_c/d\\e|f~g`h^i",
        "--no-flag --ar 16:9",
        # digits
        "1234567890",
        "3.14",
        "2x4",
        "1girl",
        "year 2024, 4k, 8k uhd",
        "1,000,000 dollars",
        # emoji
        "😀",
        "a cat 🐱 on a mat",
        "family 👨\u200d👩\u200d👧\u200d👦",
        "flags 🇫🇷 🇯🇵 🇺🇸",
        "thumbs 👍🏽 👍🏿",
        "❤️ heart with variation selector",
        "🔥🔥🔥",
        # CJK
        "一只猫坐在垫子上",
        "日本語のテキスト、ひらがなとカタカナ",
        "東京タワー",
        "한국어 텍스트 안녕하세요",
        # other scripts
        "مرحبا بالعالم",
        "שלום עולם",
        "Привет мир, ЗДРАВСТВУЙ",
        "Γειά σου Κόσμε ΑΒΓ",
        "สวัสดีชาวโลก",
        "नमस्ते दुनिया",
        "mixed English 中文 русский العربية 日本語",
        # special tokens and markup
        "<|startoftext|>",
        "<|endoftext|>",
        "a <|startoftext|> b <|endoftext|> c",
        "<|ENDOFTEXT|> in caps",
        "word</w> with end-of-word marker",
        "</w>",
        "https://example.com/path?query=1&x=2",
        "email me at someone@example.com",
        "#hashtag #AI #stablediffusion",
        "@mention @someone",
        "∑ ∫ √ ∞ ≈ ≠ ≤ ≥ π µ",
        "x² + y³ = z½",
        "°C and ℃ and ™ ©",
        # lengths
        PROMPT_75_WORDS,
        PROMPT_76_WORDS,
        PROMPT_200_TOKENS,
        LONG_MIXED,
        # weird unicode
        "zero\u200bwidth\u200bspace",
        "non\u00a0breaking\u00a0space",
        "soft\u00adhyphen",
        "rtl\u200fmark and ltr\u200emark",
        "combining z\u0335\u0321a\u0336l\u0337g\u0338o\u0334",
        "bom\ufeffinside",
        "ideographic\u3000space",
        "em\u2003space and thin\u2009space",
        "line\u2028separator",
        # control characters
        "bell\x07char",
        "next\u0085line",
        "nul\x00char",
        "escape\x1b[31mred",
        "del\x7fchar",
        # ftfy repair candidates
        "fish &amp; chips",
        "i &lt;3 you",
        "caf&eacute;",
        "&quot;quoted&quot;",
        "ＡＢＣ１２３",
        "ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ",
        "ﬁsh ﬂower",
        "cafÃ©",
        "â€œquotedâ€\x9d",
        "Ã¼ber",
        "“curly double” ‘curly single’",
        "it’s a ‘test’",
        "em—dash and en–dash",
        "ellipsis…",
        "ﾊﾝｶｸｶﾀｶﾅ halfwidth katakana",
        "Ⅷ roman numeral",
        "①②③ circled",
    ]
    seen = set()
    out = []
    for t in c:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def make_tokens():
    import transformers.models.clip.tokenization_clip as tc
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    tok_dir = FIXTURE / "tokenizer"
    slow = CLIPTokenizer.from_pretrained(str(tok_dir))
    assert slow.fix_text is not None, "ftfy is not installed: slow CLIPTokenizer would not use it"
    import ftfy

    assert slow.fix_text is ftfy.fix_text
    assert slow.pad_token == "!" and slow.pad_token_id == 0 and slow.model_max_length == MAX_LEN
    print("slow CLIPTokenizer uses ftfy", ftfy.__version__, "(", tc.__name__, ")")

    fast = CLIPTokenizerFast.from_pretrained(str(tok_dir))
    assert fast.pad_token == "!" and fast.pad_token_id == 0

    def ids(t, text):
        r = t(text, padding="max_length", max_length=MAX_LEN, truncation=True).input_ids
        assert len(r) == MAX_LEN, (text, len(r))
        return r

    agree, repairs, errors = [], [], []
    for text in token_corpus():
        try:
            a = ids(slow, text)
            b = ids(fast, text)
        except Exception as e:  # noqa: BLE001
            errors.append((text, repr(e)))
            continue
        if a == b:
            agree.append({"text": text, "ids": a})
        else:
            repairs.append({"text": text, "ftfy_ids": a, "fast_ids": b})

    # A few extra invariants worth knowing.
    n75 = ids(slow, PROMPT_75_WORDS)
    assert n75[0] == 49406 and n75[76] == 49407 and 0 not in n75, "75-word prompt should fill 77"
    n76 = ids(slow, PROMPT_76_WORDS)
    assert n76[:76] == n75[:76] and n76[76] == 49407

    write_json(GOLDENS / "tokens.json", agree)
    write_json(GOLDENS / "tokens_ftfy_repairs.json", repairs)
    print(f"tokens: {len(agree)} agreeing cases -> tokens.json, "
          f"{len(repairs)} ftfy repair cases -> tokens_ftfy_repairs.json, {len(errors)} errors")
    for r in repairs:
        print("  repair:", json.dumps(r["text"], ensure_ascii=False),
              "ftfy:", trim(r["ftfy_ids"]), "fast:", trim(r["fast_ids"]))
    for text, e in errors:
        print("  ERROR:", json.dumps(text, ensure_ascii=False), e)

    # Save from a fresh instance: calling the tokenizer with padding/truncation leaves
    # that state on the backend, and it would be written into tokenizer.json.
    with tempfile.TemporaryDirectory() as td:
        CLIPTokenizerFast.from_pretrained(str(tok_dir)).save_pretrained(td)
        tj = json.loads((Path(td) / "tokenizer.json").read_text(encoding="utf-8"))
        assert tj["padding"] is None and tj["truncation"] is None
        # Same content as HF's tokenizer.json, written without pretty-printing (the
        # indented form is ~3.6 MB, mostly whitespace around the 48894 merges).
        with open(GOLDENS / "clip_tokenizer.json", "w", encoding="utf-8", newline="\n") as f:
            json.dump(tj, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
    # Reload the saved tokenizer.json and check it reproduces the fast ids.
    from tokenizers import Tokenizer

    t2 = Tokenizer.from_file(str(GOLDENS / "clip_tokenizer.json"))
    enc = t2.encode("a photo of an astronaut riding a horse").ids
    assert enc == trim(ids(fast, "a photo of an astronaut riding a horse")), enc
    return agree, repairs


def trim(ids):
    while ids and ids[-1] == 0:
        ids = ids[:-1]
    return ids


# --------------------------------------------------------------------------
# c) numpy randn
# --------------------------------------------------------------------------
RANDN_SEEDS = [0, 1, 42, 1234, 2024, 99, 3, 4294967295, 2147483648, 123456789]
RANDN_SHAPES = [[1], [7], [1, 4, 8, 8], [2, 4, 8, 12], [1, 4, 12, 8], [3, 5]]


def make_randn():
    entries = []
    for seed in RANDN_SEEDS:
        for shape in RANDN_SHAPES:
            f64 = np.random.RandomState(seed).randn(*shape)
            f32 = f64.astype(np.float32)
            e = {"seed": seed, "shape": shape, "f32_bits": f32.view(np.uint32).ravel(order="C").tolist()}
            if len(entries) < 3:
                e["f64"] = [float(x) for x in f64.ravel(order="C")]
            entries.append(e)
    write_json(GOLDENS / "numpy_randn.json", entries, indent=None)
    print(f"numpy_randn: {len(entries)} entries")


# --------------------------------------------------------------------------
# d) PNDM timesteps (debugging aid: PNDM with skip_prk_steps runs steps+1 UNet calls)
# --------------------------------------------------------------------------
def make_pndm_timesteps():
    from diffusers import PNDMScheduler

    sched = PNDMScheduler.from_pretrained(str(FIXTURE / "scheduler"))
    entries = []
    for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 25, 50]:
        sched.set_timesteps(n)
        entries.append({"steps": n, "timesteps": [int(t) for t in sched.timesteps]})
    write_json(GOLDENS / "pndm_timesteps.json", entries, indent=None)
    print("pndm timesteps for 10 steps:", entries[9]["timesteps"])


PNDM_VARIANTS = [
    # (name, config overrides, steps)
    ("fixture", {}, 10),
    ("v_prediction", {"prediction_type": "v_prediction"}, 7),
    ("prk", {"skip_prk_steps": False}, 10),
    ("prk_v_prediction", {"skip_prk_steps": False, "prediction_type": "v_prediction"}, 12),
    ("alpha_one_linspace", {"set_alpha_to_one": True, "timestep_spacing": "linspace"}, 5),
    ("trailing", {"timestep_spacing": "trailing", "steps_offset": 0}, 6),
    ("linear_betas", {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}, 4),
    ("cosine_betas", {"beta_schedule": "squaredcos_cap_v2"}, 8),
    ("one_step", {}, 1),
]


def make_pndm_steps():
    """Whole PNDM trajectories on synthetic model outputs, as float32 bit patterns.

    For each variant: `PNDMScheduler.from_config(fixture config, **overrides)`, set_timesteps,
    then one `step` per timestep with model output `RandomState(1000 + i).randn(1, 4, 2, 3)` and
    initial sample `RandomState(7).randn(1, 4, 2, 3)` (both float32). Records the timesteps,
    `alphas_cumprod` and the sample after every step.
    """
    import torch
    from diffusers import PNDMScheduler

    base = PNDMScheduler.from_pretrained(str(FIXTURE / "scheduler")).config
    entries = []
    for name, overrides, steps in PNDM_VARIANTS:
        sched = PNDMScheduler.from_config(base, **overrides)
        sched.set_timesteps(steps)
        sample = torch.from_numpy(np.random.RandomState(7).randn(1, 4, 2, 3).astype(np.float32))
        samples = []
        for i, t in enumerate(sched.timesteps):
            out = torch.from_numpy(np.random.RandomState(1000 + i).randn(1, 4, 2, 3).astype(np.float32))
            sample = sched.step(out, t, sample).prev_sample
            samples.append(sample.numpy().astype(np.float32).view(np.uint32).ravel().tolist())
        config = {k: v for k, v in dict(sched.config).items() if not k.startswith("_")}
        entries.append({
            "name": name,
            "config": config,
            "steps": steps,
            "timesteps": [int(t) for t in sched.timesteps],
            "alphas_cumprod_bits": sched.alphas_cumprod.numpy().view(np.uint32).tolist(),
            "sample_bits": samples,
        })
    write_json(GOLDENS / "pndm_steps.json", entries, indent=None)
    print(f"pndm steps: {len(entries)} variants")


# --------------------------------------------------------------------------
# e) image editing, distilled models, previews (`--edit-only`)
# --------------------------------------------------------------------------
INPUTS = {
    "inputs/init_64.png": (64, 64),
    "inputs/init_96x64.png": (96, 64),
}
MASKS = {
    "inputs/mask_64.png": (64, 64),
    "inputs/mask_96x64.png": (96, 64),
}


def init_picture(w: int, h: int) -> np.ndarray:
    """A deterministic RGB test picture with structure: gradients, a disc, a rectangle, a
    triangle and a checkerboard patch (numpy only, no antialiasing)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([x / (w - 1), y / (h - 1), 0.5 + 0.5 * np.sin(2 * np.pi * (x + y) / 32)], -1)
    img[(x - 0.3 * w) ** 2 + (y - 0.35 * h) ** 2 <= (0.18 * h) ** 2] = [0.95, 0.85, 0.1]
    img[(x >= 0.55 * w) & (x < 0.85 * w) & (y >= 0.55 * h) & (y < 0.8 * h)] = [0.1, 0.2, 0.8]
    img[(y >= 0.6 * h) & (x >= 0.08 * w) & (x - 0.08 * w <= y - 0.6 * h)] = [0.8, 0.1, 0.3]
    img[(x >= 0.7 * w) & (y < 0.3 * h) & (((x // 4) + (y // 4)) % 2 == 0)] = [1.0, 1.0, 1.0]
    return (img * 255).round().astype(np.uint8)


def mask_picture(w: int, h: int) -> np.ndarray:
    """An 8-bit mask (white = repaint): a white disc with a ring of 127 (left half) / 128 (right
    half) around it, a 128 block and a 127 block on the top rows, and a bottom strip whose
    columns are 100, 127, 128 and 200 in turn (8 pixels each), so that both the full-size
    binarization (>= 0.5) and the nearest-neighbour sampling at latent size see 127 and 128."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    m = np.zeros((h, w), np.uint8)
    r2 = (x - 0.5 * w) ** 2 + (y - 0.5 * h) ** 2
    ring = (r2 > (0.25 * h) ** 2) & (r2 <= (0.34 * h) ** 2)
    m[ring & (x < 0.5 * w)] = 127
    m[ring & (x >= 0.5 * w)] = 128
    m[r2 <= (0.25 * h) ** 2] = 255
    m[0:8, 0:16] = 128
    m[0:8, 16:32] = 127
    strip = np.array([100, 127, 128, 200], np.uint8)[(np.arange(w) // 8) % 4]
    m[h - 8:, :] = strip[None, :]
    return m


def make_edit_inputs():
    from PIL import Image

    for fname, (w, h) in INPUTS.items():
        (GOLDENS / fname).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(init_picture(w, h), "RGB").save(GOLDENS / fname, optimize=False)
    for fname, (w, h) in MASKS.items():
        Image.fromarray(mask_picture(w, h), "L").save(GOLDENS / fname, optimize=False)
    for fname in list(INPUTS) + list(MASKS):
        im = Image.open(GOLDENS / fname)
        print(f"  {fname}: {im.mode} {im.size}")


PIPELINES = {
    "txt2img": "ORTStableDiffusionPipeline",
    "img2img": "ORTStableDiffusionImg2ImgPipeline",
    "inpaint": "ORTStableDiffusionInpaintPipeline",
    "lcm": "ORTLatentConsistencyModelPipeline",
}


def edit_case(name, mode, model, prompt, seed, steps, guidance, *, scheduler=None, generator="torch",
              negative=None, width=64, height=64, count=1, eta=0.0, init=None, mask=None,
              strength=1.0, guidance_rescale=0.0, timestep_spacing=None):
    return {
        "name": name, "model": model, "prompt": prompt, "negative_prompt": negative,
        "width": width, "height": height, "steps": steps, "guidance": guidance, "seed": seed,
        "count": count, "scheduler": scheduler, "generator": generator, "eta": eta, "files": [],
        "mode": mode, "pipeline": PIPELINES[mode], "init_image": init, "mask": mask,
        "strength": strength, "guidance_rescale": guidance_rescale,
        "timestep_spacing": timestep_spacing,
    }


def edit_cases():
    I64, I96 = "inputs/init_64.png", "inputs/init_96x64.png"
    M64, M96 = "inputs/mask_64.png", "inputs/mask_96x64.png"
    c = []
    # img2img (torch generator; width/height are the picture's).
    seed = 600
    for sched in ["pndm", "dpm++2m"]:
        for steps, strength in [(5, 0.5), (6, 0.8), (6, 0.5), (5, 0.8)]:
            slug = sched.replace("+", "p")
            c.append(edit_case(f"i2i_{slug}_{steps}_s{strength}_count2", "img2img", "tiny-sd2",
                               "an oil painting of a harbour", seed, steps, 7.5, scheduler=sched,
                               count=2, init=I64, strength=strength,
                               negative="blurry" if strength == 0.8 else None))
            seed += 1
    c += [
        edit_case("i2i_eulera_6_s0.7", "img2img", "tiny-sd2", "a watercolor of a fox", 610, 6, 7.5,
                  scheduler="euler-a", init=I64, strength=0.7),
        edit_case("i2i_heun_5_s0.6", "img2img", "tiny-sd2", "a watercolor of a fox", 611, 5, 7.5,
                  scheduler="heun", init=I64, strength=0.6),
        edit_case("i2i_ddim_10_s0.3", "img2img", "tiny-sd2", "a pencil sketch of a house", 612, 10, 7.5,
                  scheduler="ddim", init=I64, strength=0.3),
        edit_case("i2i_lms_8_s0.75", "img2img", "tiny-sd2", "a pencil sketch of a house", 613, 8, 7.5,
                  scheduler="lms", init=I64, strength=0.75),
        edit_case("i2i_unipc_6_s0.6", "img2img", "tiny-sd2", "a neon city at night", 614, 6, 7.5,
                  scheduler="unipc", init=I64, strength=0.6),
        edit_case("i2i_dpmpp2m_wide_6_s0.75", "img2img", "tiny-sd2", "a wide desert road", 615, 6, 7.5,
                  scheduler="dpm++2m", init=I96, strength=0.75, width=96, height=64),
    ]
    # inpaint: 4-channel UNet (tiny-sd2: diffusers blends after every step) and 9-channel.
    for model, tag, other, base in [("tiny-sd2", "inp4", "euler", 700), ("tiny-sd2-inpaint", "inp9", "dpm++2m", 720)]:
        oslug = other.replace("+", "p")
        c += [
            edit_case(f"{tag}_default_5_s1_count2", "inpaint", model, "a red balloon", base, 5, 7.5,
                      count=2, init=I64, mask=M64, strength=1.0),
            edit_case(f"{tag}_default_6_s0.75", "inpaint", model, "a red balloon", base + 1, 6, 7.5,
                      init=I64, mask=M64, strength=0.75, negative="grey"),
            edit_case(f"{tag}_{oslug}_5_s1", "inpaint", model, "a bunch of flowers", base + 2, 5, 7.5,
                      scheduler=other, init=I64, mask=M64, strength=1.0),
            edit_case(f"{tag}_{oslug}_6_s0.75_count2", "inpaint", model, "a bunch of flowers", base + 3, 6, 7.5,
                      scheduler=other, count=2, init=I64, mask=M64, strength=0.75),
            edit_case(f"{tag}_default_5_s1_noguidance", "inpaint", model, "a stone wall", base + 4, 5, 1.0,
                      init=I64, mask=M64, strength=1.0),
            edit_case(f"{tag}_default_wide_6_s0.75", "inpaint", model, "a boat on a lake", base + 5, 6, 7.5,
                      init=I96, mask=M96, strength=0.75, width=96, height=64),
        ]
    # turbo-style txt2img: euler-a, trailing spacing, no CFG.
    c += [
        edit_case("turbo_eulera_trailing_1_g0_torch", "txt2img", "tiny-sd2", "a cup of coffee", 800, 1, 0.0,
                  scheduler="euler-a", timestep_spacing="trailing"),
        edit_case("turbo_eulera_trailing_4_g0_numpy", "txt2img", "tiny-sd2", "a cup of coffee", 801, 4, 0.0,
                  scheduler="euler-a", generator="numpy", timestep_spacing="trailing"),
        edit_case("turbo_eulera_trailing_1_g1_numpy", "txt2img", "tiny-sd2", "a cup of tea", 802, 1, 1.0,
                  scheduler="euler-a", generator="numpy", timestep_spacing="trailing"),
        edit_case("turbo_eulera_trailing_4_g1_torch_count2", "txt2img", "tiny-sd2", "a cup of tea", 803, 4, 1.0,
                  scheduler="euler-a", count=2, timestep_spacing="trailing"),
    ]
    # guidance_rescale (txt2img only: the img2img / inpaint pipelines have no such argument).
    c += [
        edit_case("rescale_v_ddim_5_numpy", "txt2img", "tiny-sd2-v", "a golden retriever", 900, 5, 7.5,
                  generator="numpy", guidance_rescale=0.7),
        edit_case("rescale_v_ddim_5_torch", "txt2img", "tiny-sd2-v", "a golden retriever", 901, 5, 7.5,
                  guidance_rescale=0.7, negative="cartoon"),
        edit_case("rescale_v_ddim_trailing_4_torch", "txt2img", "tiny-sd2-v", "a golden retriever", 902, 4, 7.5,
                  guidance_rescale=0.7, timestep_spacing="trailing"),
        edit_case("rescale_v_ddim_5_noguidance_numpy", "txt2img", "tiny-sd2-v", "a golden retriever", 903, 5, 1.0,
                  generator="numpy", guidance_rescale=0.7),
        edit_case("rescale_eulera_4_torch", "txt2img", "tiny-sd2", "a snowy owl", 904, 4, 7.5,
                  scheduler="euler-a", guidance_rescale=0.5),
    ]
    # LCM (tiny-lcm; the pipeline takes no negative prompt and no eta, never does CFG).
    c += [
        edit_case("lcm_4_g8_torch", "lcm", "tiny-lcm", "a portrait of an old sailor", 1000, 4, 8.0),
        edit_case("lcm_1_g8_numpy", "lcm", "tiny-lcm", "a portrait of an old sailor", 1001, 1, 8.0,
                  generator="numpy"),
        edit_case("lcm_2_g1.5_torch_count2", "lcm", "tiny-lcm", "a basket of apples", 1002, 2, 1.5, count=2),
        edit_case("lcm_4_g1.5_numpy_count2", "lcm", "tiny-lcm", "a basket of apples", 1003, 4, 1.5,
                  generator="numpy", count=2),
        edit_case("lcm_2_g8_numpy_wide", "lcm", "tiny-lcm", "a mountain panorama", 1004, 2, 8.0,
                  generator="numpy", width=96, height=64),
    ]
    names = [e["name"] for e in c]
    assert len(names) == len(set(names)), "duplicate case names"
    return c


def run_edit_case(pipe, sched_cls, base_config, e):
    """One edit.json case through optimum's pipeline, as generate_with() does for images.json."""
    import diffusers
    from PIL import Image
    from make_scheduler_goldens import CLASSES

    over = {} if e["timestep_spacing"] is None else {"timestep_spacing": e["timestep_spacing"]}
    if e["scheduler"] is not None:
        class_name, extra = CLASSES[e["scheduler"]]
        pipe.scheduler = getattr(diffusers, class_name).from_config(base_config, **extra, **over)
    else:
        pipe.scheduler = sched_cls.from_config(base_config, **over)
    mode, count, w, h = e["mode"], e["count"], e["width"], e["height"]
    kwargs = dict(prompt=e["prompt"], num_inference_steps=e["steps"], guidance_scale=e["guidance"],
                  num_images_per_prompt=count, output_type="np")
    if mode != "lcm":
        kwargs.update(negative_prompt=e["negative_prompt"], eta=e["eta"])
    else:
        assert e["negative_prompt"] is None and e["eta"] == 0.0
    if mode in ("txt2img", "inpaint", "lcm"):
        kwargs.update(width=w, height=h)
    if mode in ("img2img", "inpaint"):
        image = Image.open(GOLDENS / e["init_image"]).convert("RGB")
        assert image.size == (w, h), (image.size, w, h)
        kwargs.update(image=image, strength=e["strength"])
    else:
        assert e["init_image"] is None and e["strength"] == 1.0
    if mode == "inpaint":
        mask = Image.open(GOLDENS / e["mask"])
        assert mask.mode == "L" and mask.size == (w, h)
        kwargs["mask_image"] = mask
    if e["guidance_rescale"] != 0.0:
        assert mode == "txt2img"
        kwargs["guidance_rescale"] = e["guidance_rescale"]
    module = sys.modules[type(pipe.scheduler).__module__]
    original = getattr(module, "randn_tensor", None)
    if e["generator"] == "numpy":
        assert mode in ("txt2img", "lcm"), "numpy latents only where the pipeline takes latents="
        rs = np.random.RandomState(e["seed"])
        lat = rs.randn(count, 4, h // 8, w // 8).astype(np.float32)
        kwargs["latents"] = torch.from_numpy(lat)
        if original is not None:
            module.randn_tensor = lambda shape, *a, **k: torch.from_numpy(rs.randn(*shape).astype(np.float32))
    else:
        kwargs["generator"] = torch.Generator("cpu").manual_seed(e["seed"])
    try:
        out = pipe(**kwargs).images
    finally:
        if original is not None:
            module.randn_tensor = original
    images = np.asarray(out)
    assert images.shape == (count, h, w, 3), images.shape
    return (images * 255).round().astype("uint8")


def load_pipe(mode, model):
    import optimum.onnxruntime as ortmod

    pipe = getattr(ortmod, PIPELINES[mode]).from_pretrained(
        str(FIXTURE.parent / model), provider="CPUExecutionProvider")
    pipe.set_progress_bar_config(disable=True)
    return pipe, type(pipe.scheduler), pipe.scheduler.config


def make_edit_images():
    from PIL import Image

    out_dir = GOLDENS / "edit"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    pipes = {}
    entries = []
    for e in edit_cases():
        key = (e["mode"], e["model"])
        if key not in pipes:
            pipes[key] = load_pipe(*key)
        pipe, sched_cls, base_config = pipes[key]
        assert type(pipe).__name__ == e["pipeline"]
        imgs = run_edit_case(pipe, sched_cls, base_config, e)
        for i in range(e["count"]):
            fname = f"edit/{e['name']}.png" if e["count"] == 1 else f"edit/{e['name']}-{i}.png"
            Image.fromarray(imgs[i]).save(GOLDENS / fname, optimize=False)
            back = np.asarray(Image.open(GOLDENS / fname).convert("RGB"))
            assert np.array_equal(back, imgs[i]), fname
            e["files"].append(fname)
        entries.append(e)
        f = imgs.astype(np.float64)
        extra = ""
        if e["mode"] in ("img2img", "inpaint"):
            init = np.asarray(Image.open(GOLDENS / e["init_image"]).convert("RGB")).astype(np.float64)
            extra = f" |img-init|={np.abs(f - init[None]).mean():.1f}"
            if e["mode"] == "inpaint":
                keep = np.asarray(Image.open(GOLDENS / e["mask"])) < 128
                extra += (f" (kept region {np.abs(f - init[None])[:, keep].mean():.1f},"
                          f" repainted {np.abs(f - init[None])[:, ~keep].mean():.1f})")
        print(f"  {e['name']:40s} {type(pipe.scheduler).__name__:32s} mean={f.mean():.1f} std={f.std():.1f}{extra}")
    # Determinism: the first case of each kind again.
    seen = set()
    for e in entries:
        if e["mode"] in seen:
            continue
        seen.add(e["mode"])
        pipe, sched_cls, base_config = pipes[(e["mode"], e["model"])]
        again = run_edit_case(pipe, sched_cls, base_config, dict(e, files=[]))
        for i, fname in enumerate(e["files"]):
            assert np.array_equal(again[i], np.asarray(Image.open(GOLDENS / fname).convert("RGB"))), fname
    print("sanity: rerun of the first case of each mode is bit-identical")

    def rerun(name, **changes):
        e = dict(next(x for x in entries if x["name"] == name), files=[], **changes)
        pipe, sched_cls, base_config = pipes[(e["mode"], e["model"])]
        return run_edit_case(pipe, sched_cls, base_config, e).astype(np.float64)

    def stored(name):
        e = next(x for x in entries if x["name"] == name)
        return np.stack([np.asarray(Image.open(GOLDENS / f).convert("RGB")) for f in e["files"]]).astype(np.float64)

    same = np.array_equal(rerun("rescale_v_ddim_5_noguidance_numpy", guidance_rescale=0.0),
                          stored("rescale_v_ddim_5_noguidance_numpy"))
    assert same, "guidance_rescale must have no effect without CFG"
    print("sanity: guidance_rescale 0.7 with guidance 1.0 == guidance_rescale 0 (no CFG, no rescale)")
    tmp = tempfile.TemporaryDirectory()
    inverted = Path(tmp.name) / "mask_64_inverted.png"  # an absolute path: GOLDENS / it == it
    Image.fromarray(255 - np.asarray(Image.open(GOLDENS / "inputs/mask_64.png")), "L").save(inverted)
    for name, changes in [("rescale_v_ddim_5_numpy", {"guidance_rescale": 0.0}),
                          ("rescale_eulera_4_torch", {"guidance_rescale": 0.0}),
                          ("i2i_ddim_10_s0.3", {"strength": 0.4}),
                          ("i2i_pndm_5_s0.5_count2", {"init_image": "inputs/mask_64.png"}),
                          ("inp4_default_6_s0.75", {"mask": str(inverted)}),
                          ("inp9_default_6_s0.75", {"mask": str(inverted)}),
                          ("lcm_4_g8_torch", {"guidance": 7.0}),
                          ("turbo_eulera_trailing_4_g0_numpy", {"timestep_spacing": None})]:
        d = np.abs(rerun(name, **changes) - stored(name)).mean()
        shown = {k: Path(v).name if isinstance(v, str) and v.startswith("/") else v for k, v in changes.items()}
        print(f"sanity: {name} vs the same with {shown}: mean |diff| {d:.2f} (0..255 units)")
    tmp.cleanup()
    write_json(GOLDENS / "edit.json", entries, indent=2)
    print(f"edit: {len(entries)} cases, {sum(e['count'] for e in entries)} images")


# ---- scheduler-level goldens for img2img / inpaint --------------------------
SCHED_SHAPE = (1, 4, 2, 3)
IMG2IMG_STEPS = (1, 2, 4, 5, 10, 25)
IMG2IMG_STRENGTHS = (0.1, 0.3, 0.5, 0.75, 0.99, 1.0)


def _f32_tensor(seed, shape=SCHED_SHAPE):
    return torch.from_numpy(np.random.RandomState(seed).randn(*shape).astype(np.float32))


def _bits(t):
    return t.detach().numpy().astype(np.float32).ravel(order="C").view(np.uint32).tolist()


def make_img2img_schedule():
    """What StableDiffusionImg2ImgPipeline.get_timesteps + prepare_latents' add_noise give."""
    import diffusers
    from make_scheduler_goldens import CLASSES

    base = json.loads((FIXTURE / "scheduler" / "scheduler_config.json").read_text())
    original, noise = _f32_tensor(1), _f32_tensor(2)
    entries = []
    for name, (class_name, extra) in CLASSES.items():
        cls = getattr(diffusers, class_name)
        for steps in IMG2IMG_STEPS:
            for strength in IMG2IMG_STRENGTHS:
                sched = cls.from_config(base, **extra)
                sched.set_timesteps(steps)
                all_ts = sched.timesteps
                # diffusers' get_timesteps (pipeline_stable_diffusion_img2img.py), verbatim:
                init_timestep = min(int(steps * strength), steps)
                t_start = max(steps - init_timestep, 0)
                timesteps = sched.timesteps[t_start * sched.order:]
                if hasattr(sched, "set_begin_index"):
                    sched.set_begin_index(t_start * sched.order)
                e = {
                    "scheduler": name, "steps": steps, "strength": strength,
                    "order": sched.order, "init_timestep": init_timestep, "t_start": t_start,
                    "begin_index": t_start * sched.order,
                    "has_set_begin_index": hasattr(sched, "set_begin_index"),
                    "all_timesteps": [float(t) for t in all_ts],
                    "timesteps": [float(t) for t in timesteps],
                    "timesteps_dtype": str(timesteps.dtype).replace("torch.", ""),
                    "num_steps_after": steps - t_start,
                }
                if len(timesteps) > 0:
                    e["add_noise_bits"] = _bits(sched.add_noise(original, noise, timesteps[:1]))
                entries.append(e)
    doc = {
        "original_seed": 1, "noise_seed": 2, "shape": list(SCHED_SHAPE),
        "config": "tests/fixtures/tiny-sd2/scheduler/scheduler_config.json",
        "entries": entries,
    }
    write_json(GOLDENS / "img2img_schedule.json", doc, indent=None)
    empty = sum(1 for e in entries if not e["timesteps"])
    print(f"img2img_schedule: {len(entries)} entries ({empty} with no timesteps left)")


def make_add_noise_later():
    """The 4-channel inpaint blend: after step i, add_noise(image latents, noise, timesteps[i+1])."""
    import diffusers
    from make_scheduler_goldens import CLASSES, NumpyNoise, patch_noise

    base = json.loads((FIXTURE / "scheduler" / "scheduler_config.json").read_text())
    original, noise = _f32_tensor(1), _f32_tensor(2)
    steps = 6
    entries = []
    for name, (class_name, extra) in CLASSES.items():
        cls = getattr(diffusers, class_name)
        sched = cls.from_config(base, **extra)
        module = sys.modules[cls.__module__]
        saved = getattr(module, "randn_tensor", None)
        patch_noise(cls.__module__, NumpyNoise(7))
        try:
            sched.set_timesteps(steps)
            if hasattr(sched, "set_begin_index"):
                sched.set_begin_index(0)
            timesteps = sched.timesteps
            sample = _f32_tensor(3)
            after, samples = [], []
            for i, t in enumerate(timesteps):
                sched.scale_model_input(sample, t)  # as the pipeline calls it (may set step_index)
                out = _f32_tensor(100 + i)
                sample = sched.step(out, t, sample, return_dict=False)[0]
                samples.append(_bits(sample))
                if i < len(timesteps) - 1:
                    # pipeline_stable_diffusion_inpaint.py, 4-channel UNets, verbatim:
                    noise_timestep = timesteps[i + 1]
                    after.append(_bits(sched.add_noise(original, noise, torch.tensor([noise_timestep]))))
        finally:
            if saved is not None:
                module.randn_tensor = saved
        entries.append({
            "scheduler": name, "steps": steps, "timesteps": [float(t) for t in timesteps],
            "initial_sample_seed": 3, "model_output_seeds": [100 + i for i in range(len(timesteps))],
            "noise_stream_seed": 7, "after_step": after, "sample_bits": samples,
        })
    doc = {"original_seed": 1, "noise_seed": 2, "shape": list(SCHED_SHAPE),
           "config": "tests/fixtures/tiny-sd2/scheduler/scheduler_config.json", "entries": entries}
    write_json(GOLDENS / "add_noise_later.json", doc, indent=None)
    print(f"add_noise_later: {len(entries)} schedulers")


GUIDANCE_W = (0.0, 0.5, 1.5, 7.0)
GUIDANCE_DIMS = (32, 256, 255)


def make_guidance_embedding():
    from diffusers import LatentConsistencyModelPipeline

    entries = []
    for dim in GUIDANCE_DIMS:
        for w in GUIDANCE_W:
            wt = torch.tensor(w).repeat(1)  # as the pipeline: torch.tensor(guidance_scale - 1).repeat(bs)
            emb = LatentConsistencyModelPipeline.get_guidance_scale_embedding(None, wt, embedding_dim=dim,
                                                                             dtype=torch.float32)
            assert emb.shape == (1, dim) and emb.dtype == torch.float32
            entries.append({"w": w, "guidance_scale": w + 1.0, "embedding_dim": dim, "bits": _bits(emb[0])})
    # A batch gives the same rows.
    wt = torch.tensor(GUIDANCE_W, dtype=torch.float32)
    emb = LatentConsistencyModelPipeline.get_guidance_scale_embedding(None, wt, embedding_dim=32)
    for i, w in enumerate(GUIDANCE_W):
        assert _bits(emb[i]) == next(e["bits"] for e in entries if e["w"] == w and e["embedding_dim"] == 32)
    write_json(GOLDENS / "guidance_embedding.json", entries, indent=None)
    print(f"guidance_embedding: {len(entries)} entries")


TAESD_CASES = [("taesd/seed5_64.png", 5, (1, 4, 8, 8)), ("taesd/seed6_96x64.png", 6, (1, 4, 8, 12))]


def make_taesd():
    import onnxruntime
    from PIL import Image
    from diffusers.image_processor import VaeImageProcessor
    from make_tiny_model import PREVIEW_OUT, build_taesd

    vae = build_taesd()
    sess = onnxruntime.InferenceSession(str(PREVIEW_OUT / "vae_preview" / "model.onnx"),
                                        providers=["CPUExecutionProvider"])
    proc = VaeImageProcessor(vae_scale_factor=8)
    (GOLDENS / "taesd").mkdir(parents=True, exist_ok=True)
    entries = []
    for fname, seed, shape in TAESD_CASES:
        lat = np.random.RandomState(seed).randn(*shape).astype(np.float32)
        with torch.no_grad():
            x = vae.decode(torch.from_numpy(lat)).sample
        img = (proc.postprocess(x, output_type="np") * 255).round().astype("uint8")[0]
        y = sess.run(None, {"latent_sample": lat})[0]
        img_onnx = (proc.postprocess(torch.from_numpy(y), output_type="np") * 255).round().astype("uint8")[0]
        Image.fromarray(img).save(GOLDENS / fname, optimize=False)
        assert np.array_equal(np.asarray(Image.open(GOLDENS / fname).convert("RGB")), img)
        d_float = float(np.abs(y - x.numpy()).max())
        d_px = int(np.abs(img.astype(int) - img_onnx.astype(int)).max())
        assert d_float < 1e-4, d_float
        print(f"  {fname}: torch vs onnx max |diff| {d_float:.2e} (decoder output), {d_px} (RGB8); "
              f"raw output range [{float(x.min()):.3f}, {float(x.max()):.3f}]")
        entries.append({"seed": seed, "shape": list(shape), "file": fname,
                        "width": shape[3] * 8, "height": shape[2] * 8,
                        "onnx_max_abs_diff": d_float, "onnx_max_pixel_diff": d_px})
    write_json(GOLDENS / "taesd.json", entries, indent=2)


RESCALE_INPUTS = [
    # (noise_cfg seed, scale, noise_pred_text seed, scale): tensors RandomState(seed).randn(2, 4, 3, 5)
    # cast to float32, then multiplied by the (float32) scale.
    (41, 3.0, 42, 1.0),
    (43, 1.0, 44, 0.5),
]
RESCALE_VALUES = (0.0, 0.5, 0.7, 1.0)


def make_rescale_cfg():
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

    shape = (2, 4, 3, 5)
    entries = []
    for cfg_seed, cfg_scale, text_seed, text_scale in RESCALE_INPUTS:
        cfg = torch.from_numpy(np.random.RandomState(cfg_seed).randn(*shape).astype(np.float32) * np.float32(cfg_scale))
        text = torch.from_numpy(np.random.RandomState(text_seed).randn(*shape).astype(np.float32) * np.float32(text_scale))
        for gr in RESCALE_VALUES:
            out = rescale_noise_cfg(cfg.clone(), text.clone(), guidance_rescale=gr)
            entries.append({
                "shape": list(shape), "noise_cfg_seed": cfg_seed, "noise_cfg_scale": cfg_scale,
                "noise_pred_text_seed": text_seed, "noise_pred_text_scale": text_scale,
                "guidance_rescale": gr,
                "noise_cfg_bits": _bits(cfg), "noise_pred_text_bits": _bits(text),
                "std_text_bits": _bits(text.std(dim=[1, 2, 3])),
                "std_cfg_bits": _bits(cfg.std(dim=[1, 2, 3])),
                "out_bits": _bits(out),
            })
    write_json(GOLDENS / "rescale_cfg.json", entries, indent=None)
    print(f"rescale_cfg: {len(entries)} entries")


def make_edit_goldens():
    GOLDENS.mkdir(parents=True, exist_ok=True)
    make_edit_inputs()
    make_img2img_schedule()
    make_add_noise_later()
    make_guidance_embedding()
    make_rescale_cfg()
    make_taesd()
    make_edit_images()


def write_readme():
    text = """# Goldens

Reference outputs for the Rust tests. Generated by `python tools/make_goldens.py` (see
`tools/requirements.txt` for versions) from `tests/fixtures/tiny-sd2`; do not edit by hand.

- `images.json`, `images/*.png`: optimum `ORTStableDiffusionPipeline` (CPUExecutionProvider).
  Initial latents: `np.random.RandomState(seed).randn(count, 4, height // 8, width // 8)`
  (float64 draw, C order) cast to float32, passed as `latents=` with
  `num_images_per_prompt=count` (the pipeline multiplies them by `init_noise_sigma`, 1.0 for
  PNDM). Pixels: `(clamp(x / 2 + 0.5, 0, 1) * 255).round()` as uint8, i.e. what diffusers'
  `numpy_to_pil` does. `negative_prompt: null` means the empty string is used as the
  unconditional prompt; `guidance <= 1` disables classifier-free guidance.
  File names: `<name>.png`, or `<name>-<i>.png` when `count > 1`. Each entry also names its
  `model` (a folder of tests/fixtures: `tiny-sd2`, or `tiny-sd2-v` with SD 2.1-768's DDIM
  v-prediction config), `scheduler` (an sdrt name, or null for the model's own; rendered with
  `pipe.scheduler = <Class>.from_config(pipe.scheduler.config, **extra)`), `generator` and
  `eta`. `generator: "torch"` cases pass `generator=torch.Generator("cpu").manual_seed(seed)`
  instead of latents; `"numpy"` cases with a stochastic scheduler replace the scheduler's
  `randn_tensor` with draws from the same RandomState that made the latents.
- `tokens.json`: `[{"text", "ids"}]`, 77 ids (BOS 49406, EOS 49407, pad `!` = id 0), from
  transformers' slow `CLIPTokenizer` with ftfy, called as diffusers does
  (`padding="max_length", max_length=77, truncation=True`). Only cases where the fast
  tokenizer (`CLIPTokenizerFast`, no ftfy) gives the same ids.
- `tokens_ftfy_repairs.json`: `[{"text", "ftfy_ids", "fast_ids"}]`, the cases where they differ
  (HTML entities, fullwidth forms, ligatures, mojibake, curly quotes, control characters...).
- `clip_tokenizer.json`: the fast tokenizer's `tokenizer.json` converted from the fixture's
  vocab.json/merges.txt (compact JSON, no padding/truncation section).
- `numpy_randn.json`: `[{"seed", "shape", "f32_bits", "f64"?}]`: numpy legacy
  `RandomState(seed).randn(*shape).astype(float32)` as uint32 bit patterns in C order; the
  first three entries also carry the float64 values.
- `pndm_steps.json`: `[{"name", "config", "steps", "timesteps", "alphas_cumprod_bits",
  "sample_bits"}]`: diffusers' `PNDMScheduler.from_config(fixture config, **overrides)` run
  over synthetic float32 model outputs (`RandomState(1000 + i).randn(1, 4, 2, 3)`, initial sample
  `RandomState(7).randn(1, 4, 2, 3)`); the sample after each step as float32 bit patterns.
- `schedulers/*.json`, `schedulers_exact/*.json`: written by
  `tools/make_scheduler_goldens.py` (see its docstring and tests/schedulers.rs): trajectories of
  every scheduler on synthetic inputs, as diffusers runs them and with correctly rounded float32
  math (`--correctly-rounded`).
- `torch_randn.json`: written by `tools/make_torch_randn_goldens.py`: `torch.randn` with CPU
  generators for many seeds, sizes and call sequences.
- `pndm_timesteps.json`: `[{"steps", "timesteps"}]` from diffusers' `PNDMScheduler` with the
  fixture's scheduler config (skip_prk_steps: `steps + 1` UNet calls, one timestep repeated).
"""
    from make_cuda_goldens import CUDA_README

    (GOLDENS / "README.md").write_text(text + EDIT_README + SAFETY_README + CUDA_README,
                                       encoding="utf-8")


EDIT_README = """
## Image editing, distilled models, previews

Written by `python tools/make_goldens.py --edit-only` (the full run writes them too), after
`python tools/make_tiny_model.py --edit-fixtures-only` (fixtures `tiny-sd2-inpaint`, `tiny-lcm`,
`tiny-sd2-preview`, see their READMEs). Everything on the CPU provider, deterministic.

- `inputs/init_64.png`, `inputs/init_96x64.png` (RGB; width x height), `inputs/mask_64.png`,
  `inputs/mask_96x64.png` (8-bit grayscale `L`, white = repaint): drawn with numpy (no
  antialiasing). The masks hold the values 0, 100, 127, 128, 200 and 255; 127 and 128 sit both
  where the full-size mask is binarized and at the pixels `(8 i, 8 j)` that the nearest-neighbour
  resize to latent size picks. diffusers binarizes `x / 255` as `x >= 0.5` -> 1, i.e. 127 -> 0
  (keep) and 128 -> 1 (repaint).
- `edit.json`, `edit/*.png`: the schema of `images.json` (`name, model, prompt, negative_prompt,
  width, height, steps, guidance, seed, count, scheduler, generator, eta, files`) plus, on every
  entry: `mode` (`txt2img`, `img2img`, `inpaint`, `lcm`), `pipeline` (the optimum class used),
  `init_image`, `mask` (paths relative to this folder, or null), `strength` (1.0 when unused),
  `guidance_rescale` (0.0 when unused) and `timestep_spacing` (null, or a `from_config` override
  of the scheduler's `timestep_spacing`: `pipe.scheduler = <Class>.from_config(config, **extra,
  timestep_spacing=...)`). Pixels and file names as for `images.json`.
  - `img2img` (`ORTStableDiffusionImg2ImgPipeline` on tiny-sd2): the PIL picture is passed as
    `image=`; the pipeline takes no width/height (they are the picture's). `torch` generator only
    (the pipeline has no `latents=`).
  - `inpaint` (`ORTStableDiffusionInpaintPipeline`): `image=`, `mask_image=` (the `L` PNG),
    `width`, `height`, `strength`. On `tiny-sd2` the UNet has 4 input channels (diffusers blends
    the known region back after every step, see `add_noise_later.json`); on `tiny-sd2-inpaint` 9.
    `torch` generator only.
  - `txt2img` (`ORTStableDiffusionPipeline`): the turbo-style cases (euler-a, trailing spacing,
    guidance 0 or 1, 1 or 4 steps) and the `guidance_rescale` cases (`tiny-sd2-v`, DDIM
    v-prediction, and euler-a on `tiny-sd2`). `numpy` generator as in `images.json`.
  - `lcm` (`ORTLatentConsistencyModelPipeline` on tiny-lcm): no negative prompt (the pipeline has
    none and never does classifier-free guidance), no eta. `numpy`: latents from
    `RandomState(seed)`, and `LCMScheduler`'s `randn_tensor` (the noise it adds between steps)
    continues that stream.

  The order of the torch generator's draws (count = `num_images_per_prompt`, latent shape
  `[*, 4, height / 8, width / 8]`):
  - img2img: (1) the VAE encoder's sample of the picture, batch **1**:
    `latents = mean + std * randn` with `mean, logvar = chunk(latent_parameters, 2, dim=1)`,
    `logvar = clamp(logvar, -30, 20)`, `std = exp(0.5 * logvar)`, then `* 0.18215`, then repeated
    to batch `count`; (2) the noise, batch `count`: `latents = add_noise(image_latents, noise,
    timesteps[:1])`; (3) the scheduler's own draws, batch `count`, each step.
  - inpaint, 4-channel UNet (any strength; the image latents are always needed for the blend):
    (1) image encoder sample, batch 1; (2) noise, batch `count` (strength 1: `latents = noise *
    init_noise_sigma`; else `add_noise(image_latents, noise, timesteps[:1])`); (3) the masked
    image's encoder sample, batch 1 (computed although a 4-channel UNet does not use it);
    (4) scheduler draws.
  - inpaint, 9-channel, strength 1.0: (1) noise, batch `count` (`* init_noise_sigma`); (2) the
    masked image's encoder sample, batch 1; (3) scheduler draws. Strength < 1: (1) image
    encoder sample, batch 1; (2) noise; (3) masked image sample, batch 1; (4) scheduler draws.
  - txt2img, lcm: (1) the latents, batch `count` (`* init_noise_sigma`); (2) scheduler draws.

  Inpaint preprocessing (diffusers `VaeImageProcessor`): picture `x / 255` (float32) `* 2 - 1`;
  mask converted to `L` (a no-op here), `x / 255`, binarized `< 0.5 -> 0, >= 0.5 -> 1`, not
  normalized; `masked_image = image * (mask < 0.5)` (so masked pixels become 0, i.e. mid-grey);
  the binarized mask is resized to latent size with `torch.nn.functional.interpolate(mode=
  "nearest")` (source pixel `(8 i, 8 j)`). 9-channel UNet input: `cat([scale_model_input(latents),
  mask, masked_image_latents], dim=1)`; with CFG the mask and masked-image latents are
  duplicated (`cat([x] * 2)`) like the latents. 4-channel blend after step `i`:
  `latents = (1 - mask) * init + mask * latents` with `init = add_noise(image_latents, noise,
  tensor([timesteps[i + 1]]))` for `i < len - 1` and the clean `image_latents` after the last step.
  Timesteps for img2img and inpaint: `get_timesteps` (see `img2img_schedule.json`); inpaint refuses
  a strength that leaves fewer than 1 step.
- `img2img_schedule.json`: `{"original_seed": 1, "noise_seed": 2, "shape", "config",
  "entries": [...]}`; for every scheduler of `make_scheduler_goldens.CLASSES` with the tiny-sd2
  scheduler config, steps in (1, 2, 4, 5, 10, 25), strength in (0.1, 0.3, 0.5, 0.75, 0.99, 1.0):
  diffusers' `StableDiffusionImg2ImgPipeline.get_timesteps`: `init_timestep = min(int(steps *
  strength), steps)`, `t_start = max(steps - init_timestep, 0)`, `timesteps =
  scheduler.timesteps[t_start * order:]`, `set_begin_index(t_start * order)` when the scheduler
  has it. Entry keys: `scheduler, steps, strength, order, init_timestep, t_start, begin_index,
  has_set_begin_index, all_timesteps` (after `set_timesteps`), `timesteps` (floats),
  `timesteps_dtype`, `num_steps_after` (`steps - t_start`), and, when `timesteps` is not empty,
  `add_noise_bits`: `scheduler.add_noise(original, noise, timesteps[:1])` as float32 bits with
  `original = RandomState(1).randn(1, 4, 2, 3)` and `noise = RandomState(2).randn(1, 4, 2, 3)`
  (float32). Note PNDM (skip_prk_steps) repeats a timestep, so slicing by `t_start` can leave
  entries where `init_timestep` is 0.
- `add_noise_later.json`: `{"original_seed": 1, "noise_seed": 2, "shape", "config", "entries":
  [{"scheduler", "steps": 6, "timesteps", "initial_sample_seed": 3, "model_output_seeds",
  "noise_stream_seed": 7, "after_step", "sample_bits"}]}`: `set_timesteps(6)`,
  `set_begin_index(0)` where available, sample `RandomState(3).randn(1, 4, 2, 3)`; for each
  timestep `i`: `scale_model_input(sample, t)` (result unused; as the pipeline calls it), `sample =
  step(RandomState(100 + i).randn(1, 4, 2, 3), t, sample)` (stochastic schedulers: `randn_tensor`
  replaced by one `RandomState(7)` stream), `sample_bits[i]` = the new sample, and for `i < len -
  1` `after_step[i]` = `add_noise(original, noise, tensor([timesteps[i + 1]]))` (what the inpaint
  pipeline blends in for 4-channel UNets; schedulers that index sigmas use their `step_index`
  there, not the timestep).
- `guidance_embedding.json`: `[{"w", "guidance_scale", "embedding_dim", "bits"}]`: diffusers'
  `LatentConsistencyModelPipeline.get_guidance_scale_embedding(tensor([w]), embedding_dim,
  dtype=float32)` for w in (0.0, 0.5, 1.5, 7.0) and embedding_dim in (32, 256, 255), as float32
  bits. The LCM pipeline passes `w = torch.tensor(guidance_scale - 1).repeat(count)` (float32;
  `guidance_scale` 8.0 -> w 7.0) and feeds the result as the UNet's `timestep_cond` (float32
  `[count, time_cond_proj_dim]`, the same every step). The function: `w * 1000`, `half = dim // 2`,
  `f = exp(arange(half) * -(log(10000) / (half - 1)))`, `[sin(w f), cos(w f)]`, a zero column
  appended when `dim` is odd.
- `taesd.json`, `taesd/*.png`: `[{"seed", "shape", "file", "width", "height",
  "onnx_max_abs_diff", "onnx_max_pixel_diff"}]`: latents `RandomState(seed).randn(*shape)`
  (float32) decoded by the torch `AutoencoderTiny` whose weights are
  `tests/fixtures/tiny-sd2-preview/vae_preview` (rebuilt by `make_tiny_model.build_taesd()`),
  pixels as above (`clamp(x / 2 + 0.5, 0, 1) * 255`, rounded); the latents go in unscaled
  (TAESD's scaling_factor is 1.0). The ONNX graph's largest difference from torch is recorded.
- `rescale_cfg.json`: `[{"shape", "noise_cfg_seed", "noise_cfg_scale", "noise_pred_text_seed",
  "noise_pred_text_scale", "guidance_rescale", "noise_cfg_bits", "noise_pred_text_bits",
  "std_text_bits", "std_cfg_bits", "out_bits"}]`: diffusers' `rescale_noise_cfg(noise_cfg,
  noise_pred_text, guidance_rescale)` on `RandomState(seed).randn(2, 4, 3, 5).astype(float32) *
  float32(scale)`, guidance_rescale in (0.0, 0.5, 0.7, 1.0): `std` is torch's default (unbiased,
  `N - 1`) over dims 1.. per sample, `out = r * cfg * (std_text / std_cfg) + (1 - r) * cfg`. The
  txt2img pipeline applies it after the CFG combination and before `scheduler.step`, only when
  CFG is on (`guidance > 1`) and `guidance_rescale > 0`; img2img and inpaint have no such option.
"""


# --------------------------------------------------------------------------
# f) safety checker (`--safety-only`): tests/fixtures/tiny-sd1-safety
# --------------------------------------------------------------------------
SAFETY_MODEL = "tiny-sd1-safety"

# name, scheduler (sdrt name, None = the model's PNDM), generator, prompt, negative, width,
# height, steps, guidance, seed, count, eta, roles.
# roles: one per image, what make_tiny_model.calibrate_safety_checker() makes the checker see:
#   "concept": a concept score well above 0 (flagged); "clean": every score well below 0;
#   "special": a special-care score above 0 and a concept score of -0.005, flagged only through
#   the +0.01 special-care adjustment; "near": a concept score of -0.005 and no special care
#   (not flagged; it would be with the adjustment).
SAFETY_CASES = [
    ("pndm_numpy", None, "numpy", "a photo of an astronaut riding a horse on mars", None,
     64, 64, 10, 7.5, 42, 1, 0.0, ["concept"]),
    ("pndm_numpy_count2", None, "numpy", "a bowl of fruit", "blurry",
     64, 64, 6, 7.5, 51, 2, 0.0, ["concept", "clean"]),
    ("pndm_numpy_wide", None, "numpy", "a watercolor landscape with mountains", None,
     96, 64, 6, 5.0, 52, 1, 0.0, ["concept"]),
    ("pndm_torch", None, "torch", "portrait of a cat wearing a hat", "dog",
     64, 64, 5, 7.5, 53, 1, 0.0, ["clean"]),
    ("eulera_torch_count2", "euler-a", "torch", "two cats", None,
     64, 64, 4, 7.5, 54, 2, 0.0, ["clean", "concept"]),
    ("dpmpp2m_numpy_tall", "dpm++2m", "numpy", "a lighthouse at night", None,
     64, 96, 5, 7.5, 55, 1, 0.0, ["special"]),
    ("ddim_torch_noguidance", "ddim", "torch", "a tree", None,
     64, 64, 4, 1.0, 56, 1, 0.0, ["near"]),
    ("euler_numpy_count2", "euler", "numpy", "a small house by the sea", "fog",
     64, 64, 4, 7.5, 57, 2, 0.0, ["clean", "concept"]),
]


def safety_unchecked_images(pipe=None):
    """The images of SAFETY_CASES before any safety check: optimum's ORTStableDiffusionPipeline
    on tiny-sd1-safety (which does not load safety_checker/model.onnx), exactly as
    images.json's cases (generate_with). Returns [(case, uint8 [count, h, w, 3])]."""
    if pipe is None:
        pipe = load_safety_pipe()
    base = pipe.scheduler.config
    out = []
    for case in SAFETY_CASES:
        name, sched, gen, prompt, neg, w, h, steps, g, seed, count, eta, roles = case
        assert len(roles) == count, name
        out.append((case, generate_with(pipe, base, sched, gen, prompt, neg, w, h, steps, g, seed, count, eta)))
    return out


def load_safety_pipe(safety_checker=None):
    from optimum.onnxruntime import ORTStableDiffusionPipeline

    kwargs = {} if safety_checker is None else {"safety_checker": safety_checker}
    pipe = ORTStableDiffusionPipeline.from_pretrained(str(FIXTURE.parent / SAFETY_MODEL),
                                                      provider="CPUExecutionProvider", **kwargs)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def fnv1a64(data: bytes) -> str:
    """FNV-1a, 64 bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3), as 16 hex digits."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


CLIP_INPUTS = {
    # synthetic pictures (make_goldens.init_picture), width x height
    "inputs/clip_300x200.png": (300, 200),
    "inputs/clip_200x300.png": (200, 300),
    "inputs/clip_450x301.png": (450, 301),
}
# Inputs whose [224, 224, 3] crop is stored as a PNG, and whose pixel_values rows (0, 111, 223)
# of every channel are stored as float32 bits.
CLIP_CROP_PNG = ("inputs/init_64.png", "inputs/init_96x64.png", "inputs/clip_300x200.png",
                 "inputs/clip_200x300.png", "inputs/clip_450x301.png",
                 "safety/pndm_numpy_wide-unchecked.png")
CLIP_ROWS = ("inputs/init_96x64.png", "inputs/clip_450x301.png")


def clip_steps(fe, rgb: np.ndarray):
    """CLIPImageProcessor.preprocess of one RGB8 image, step by step (to record the intermediate
    sizes): transformers' get_resize_output_image_size, PIL's resize with the processor's filter,
    the center crop offsets of transformers' center_crop, rescale in float64 cast to float32,
    normalize in float32. The callers check it equals fe(image).pixel_values bit for bit."""
    from PIL import Image
    from transformers.image_transforms import get_resize_output_image_size

    h, w = rgb.shape[:2]
    short = fe.size["shortest_edge"]
    rh, rw = get_resize_output_image_size(rgb, size=short, default_to_square=False)
    resized = np.array(Image.fromarray(rgb, "RGB").resize((rw, rh), resample=fe.resample))
    ch, cw = fe.crop_size["height"], fe.crop_size["width"]
    top, left = (rh - ch) // 2, (rw - cw) // 2
    assert top >= 0 and left >= 0
    crop = resized[top:top + ch, left:left + cw]
    x = (crop.astype(np.float64) * fe.rescale_factor).astype(np.float32)
    x = (x - np.array(fe.image_mean, np.float32)) / np.array(fe.image_std, np.float32)
    return {"resized": (rw, rh), "crop_left_top": (left, top), "crop": crop,
            "pixel_values": np.ascontiguousarray(x.transpose(2, 0, 1))}


def make_safety_goldens():
    import onnxruntime
    from PIL import Image
    from transformers import CLIPImageProcessor
    from make_tiny_model import SAFETY_OUT, build_safety_checker, safety_scores

    out_dir = GOLDENS / "safety"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    plain = load_safety_pipe()
    # optimum's ORT pipelines load no safety checker (modeling_diffusion.py keeps the one passed
    # as a torch module, `safety_checker=`), and read feature_extractor/ with the class that
    # model_index.json names.
    assert plain.safety_checker is None
    fe = plain.feature_extractor
    assert type(fe) is CLIPImageProcessor, type(fe)
    unchecked = safety_unchecked_images(plain)
    checker = build_safety_checker([im for _, imgs in unchecked for im in imgs])
    check_safety_onnx(checker)

    # The reference: diffusers' StableDiffusionPipeline.run_safety_checker inside optimum's
    # pipeline, with the torch checker (the same weights) passed in.
    checked_pipe = load_safety_pipe(checker)
    spy = {}
    original = checked_pipe.run_safety_checker

    def run_safety_checker(image, device, dtype):
        pre = checked_pipe.feature_extractor(checked_pipe.image_processor.postprocess(image, output_type="pil"),
                                             return_tensors="pt").pixel_values
        spy["clip_input"] = pre.numpy().copy()
        image, nsfw = original(image, device, dtype)
        spy["nsfw"] = list(nsfw)
        return image, nsfw

    checked_pipe.run_safety_checker = run_safety_checker
    sess = onnxruntime.InferenceSession(str(SAFETY_OUT / "safety_checker" / "model.onnx"),
                                        providers=["CPUExecutionProvider"])
    entries, pv_by_file = [], {}
    for case, raw in unchecked:
        name, sched, gen, prompt, neg, w, h, steps, g, seed, count, eta, roles = case
        spy.clear()
        imgs = generate_with(checked_pipe, plain.scheduler.config, sched, gen, prompt, neg, w, h,
                             steps, g, seed, count, eta)
        nsfw = [bool(x) for x in spy["nsfw"]]
        want = [r in ("concept", "special") for r in roles]
        assert nsfw == want, (name, nsfw, roles)
        files, files_u = [], []
        pv = []
        for i in range(count):
            suffix = "" if count == 1 else f"-{i}"
            fu, fc = f"safety/{name}{suffix}-unchecked.png", f"safety/{name}{suffix}.png"
            assert np.array_equal(imgs[i], np.zeros_like(raw[i]) if nsfw[i] else raw[i]), (name, i)
            for fname, arr in ((fu, raw[i]), (fc, imgs[i])):
                Image.fromarray(arr).save(GOLDENS / fname, optimize=False)
                assert np.array_equal(np.asarray(Image.open(GOLDENS / fname).convert("RGB")), arr), fname
            files.append(fc)
            files_u.append(fu)
            steps_i = clip_steps(fe, raw[i])
            ref = fe(Image.fromarray(raw[i]), return_tensors="np").pixel_values[0]
            assert ref.dtype == np.float32 and np.array_equal(ref.view(np.uint32), steps_i["pixel_values"].view(np.uint32))
            assert np.array_equal(spy["clip_input"][i].view(np.uint32), ref.view(np.uint32)), (name, i)
            pv.append(ref)
            pv_by_file[fu] = (raw[i], steps_i)
        pv = np.stack(pv)
        # (c) the graph on those exact pixel_values, the images as the ONNX pipelines pass them
        # (float32 NHWC in [0, 1]); once as a batch, once per image (diffusers'
        # OnnxStableDiffusionPipeline calls it with batch 1).
        images01 = (raw.astype(np.float32) / np.float32(255))
        out_images, flags = sess.run(None, {"clip_input": pv, "images": images01.copy()})
        assert flags.dtype == np.bool_ and flags.shape == (count,)
        for i in range(count):
            one = sess.run(None, {"clip_input": pv[i:i + 1], "images": images01[i:i + 1].copy()})[1]
            assert bool(one[0]) == bool(flags[i])
            assert np.array_equal(out_images[i], np.zeros_like(images01[i]) if flags[i] else images01[i])
        onnx_nsfw = [bool(x) for x in flags]
        assert onnx_nsfw == nsfw, (name, onnx_nsfw, nsfw)
        scores = safety_scores(checker, torch.from_numpy(pv))
        entries.append({
            "name": name, "model": SAFETY_MODEL, "prompt": prompt, "negative_prompt": neg,
            "width": w, "height": h, "steps": steps, "guidance": g, "seed": seed, "count": count,
            "scheduler": sched, "generator": gen, "eta": eta, "files": files,
            "nsfw": nsfw, "files_unchecked": files_u, "onnx_nsfw": onnx_nsfw,
            "roles": roles, "scores": scores,
        })
        print(f"  {name:24s} {type(checked_pipe.scheduler).__name__:32s} nsfw={nsfw} roles={roles} "
              + " ".join(f"[concept {s['concept_max']:+.4f} special {s['special_max']:+.4f}]" for s in scores))
    write_json(GOLDENS / "safety.json", entries, indent=2)
    n = sum(e["count"] for e in entries)
    k = sum(sum(e["nsfw"]) for e in entries)
    print(f"safety: {len(entries)} cases, {n} images, {k} flagged")
    make_clip_preprocess(fe, sess, pv_by_file)


def check_safety_onnx(checker):
    """The rebuilt torch checker must hold the committed graph's weights."""
    import onnx
    from onnx import numpy_helper
    from make_tiny_model import SAFETY_OUT

    m = onnx.load(str(SAFETY_OUT / "safety_checker" / "model.onnx"))
    sd = {k: v.numpy() for k, v in checker.state_dict().items()}
    matched = 0
    for init in m.graph.initializer:
        if init.name in sd:
            assert np.array_equal(numpy_helper.to_array(init), sd[init.name]), init.name
            matched += 1
    assert matched >= 10, matched
    print(f"rebuilt safety checker: {matched} ONNX initializers equal the torch weights")


def make_clip_preprocess(fe, sess, pv_by_file):
    """tests/goldens/clip_preprocess.json (see the README)."""
    from PIL import Image

    for fname, (w, h) in CLIP_INPUTS.items():
        Image.fromarray(init_picture(w, h), "RGB").save(GOLDENS / fname, optimize=False)
    crops_dir = GOLDENS / "safety" / "crops"
    crops_dir.mkdir(parents=True, exist_ok=True)
    files = list(pv_by_file) + ["inputs/init_64.png", "inputs/init_96x64.png"] + list(CLIP_INPUTS)
    # pixel value v of channel c -> float32: the processor's own rescale + normalize on all 256.
    ramp = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=2)  # [16, 16, 3]
    lut = fe.normalize(fe.rescale(ramp, scale=fe.rescale_factor, input_data_format="channels_last"),
                       mean=fe.image_mean, std=fe.image_std, input_data_format="channels_last")
    assert lut.dtype == np.float32
    lut = lut.reshape(256, 3)
    lut_bits = [lut[:, c].view(np.uint32).tolist() for c in range(3)]
    entries = []
    for fname in files:
        rgb = np.asarray(Image.open(GOLDENS / fname).convert("RGB"))
        if fname in pv_by_file:
            assert np.array_equal(pv_by_file[fname][0], rgb)
        s = clip_steps(fe, rgb)
        ref = fe(Image.open(GOLDENS / fname), return_tensors="np").pixel_values[0]
        pv = s["pixel_values"]
        assert np.array_equal(ref.view(np.uint32), pv.view(np.uint32)), fname
        via_lut = np.stack([lut[:, c][s["crop"][..., c]] for c in range(3)])
        assert np.array_equal(via_lut.view(np.uint32), pv.view(np.uint32)), fname
        h, w = rgb.shape[:2]
        e = {"input": fname, "width": w, "height": h,
             "resized_width": s["resized"][0], "resized_height": s["resized"][1],
             "crop_left": s["crop_left_top"][0], "crop_top": s["crop_left_top"][1],
             "crop_file": None,
             "crop_fnv1a64": fnv1a64(np.ascontiguousarray(s["crop"]).tobytes()),
             "pixel_values_fnv1a64": fnv1a64(pv.astype("<f4").tobytes())}
        if fname in CLIP_CROP_PNG:
            cf = "safety/crops/" + Path(fname).name.replace("-unchecked", "")
            Image.fromarray(s["crop"], "RGB").save(GOLDENS / cf, optimize=False)
            assert np.array_equal(np.asarray(Image.open(GOLDENS / cf)), s["crop"])
            e["crop_file"] = cf
        if fname in CLIP_ROWS:
            e["rows"] = [{"channel": c, "row": y, "bits": pv[c, y].view(np.uint32).tolist()}
                         for c in range(3) for y in (0, 111, 223)]
        img01 = rgb.astype(np.float32)[None] / np.float32(255)
        e["onnx_nsfw"] = bool(sess.run(None, {"clip_input": pv[None], "images": img01})[1][0])
        entries.append(e)
        print(f"  {fname:44s} {w}x{h} -> {e['resized_width']}x{e['resized_height']} crop at "
              f"({e['crop_left']}, {e['crop_top']}) nsfw={e['onnx_nsfw']}")
    doc = {
        "processor": "transformers.CLIPImageProcessor (the slow one, as diffusers and optimum load "
                     "it) from tests/fixtures/tiny-sd1-safety/feature_extractor",
        "config": json.loads((FIXTURE.parent / SAFETY_MODEL / "feature_extractor" /
                              "preprocessor_config.json").read_text()),
        "lut_bits": lut_bits,
        "entries": entries,
    }
    write_json(GOLDENS / "clip_preprocess.json", doc, indent=None)
    print(f"clip_preprocess: {len(entries)} inputs")


SAFETY_README = """
## Safety checker (SD 1.x) and CLIP image preprocessing

Written by `python tools/make_goldens.py --safety-only` (the full run writes them too), after
`python tools/make_tiny_model.py --safety-only` (fixture `tiny-sd1-safety`: tiny-sd2's parts as
links plus `safety_checker/model.onnx` and `feature_extractor/`, see its README). CPU provider,
deterministic.

- `safety.json`, `safety/*.png`: the schema of `images.json` (`name, model, prompt,
  negative_prompt, width, height, steps, guidance, seed, count, scheduler, generator, eta, files`;
  model `tiny-sd1-safety`, rendered as `images.json`'s cases) plus, on every entry: `nsfw` (bool
  per image), `files_unchecked` (the images before blacking out), `onnx_nsfw` (below), `roles`
  (per image, what the checker was calibrated to see: `concept`, `clean`, `special`, `near`; see
  the fixture's README) and `scores` (per image: `concept_max` = the largest `cosine - threshold +
  adjustment` over the 17 concepts, `special_max` = the largest special-care `cosine - threshold`,
  their indices; float32 from torch, rounded to 6 decimals). File names `safety/<name>.png` or
  `safety/<name>-<i>.png` (count > 1), and `...-unchecked.png`.
  Reference: optimum's `ORTStableDiffusionPipeline` does not load `safety_checker/model.onnx`
  (modeling_diffusion.py opens sessions for the UNet, VAE and text encoders only and takes
  `safety_checker=` as a torch module), so the images are optimum's pipeline with diffusers'
  torch `StableDiffusionSafetyChecker` (the graph's weights, rebuilt by
  `make_tiny_model.build_safety_checker`) passed as `safety_checker=`: diffusers'
  `StableDiffusionPipeline.__call__` runs `run_safety_checker` on the decoded images:
  `feature_extractor(image_processor.postprocess(image, "pil"), return_tensors="pt")` (the PIL
  images are the RGB8 of `files_unchecked`), then `safety_checker(images=image, clip_input=
  pixel_values)`; flagged images become zeros in [-1, 1] space and are not denormalized, i.e.
  black `(0, 0, 0)` RGB8; the others are bit-identical to the unchecked ones. The torch `forward`
  rounds each score to 3 decimals before `> 0` (forward_onnx does not); every score is at least
  0.005 away from 0, so both agree. The checker draws no random numbers.
  `onnx_nsfw`: `has_nsfw_concepts` of `safety_checker/model.onnx` fed with the exact
  `pixel_values` of `clip_preprocess.json` (batch `count`) and `images` = the unchecked RGB8 / 255
  as float32 `[count, H, W, 3]`: equal to `nsfw`, also with batch 1 per image (as diffusers'
  `OnnxStableDiffusionPipeline` calls it); `out_images` is `images` with the flagged ones 0.0.
- `clip_preprocess.json`: `{"processor", "config", "lut_bits", "entries"}`: transformers' slow
  `CLIPImageProcessor` (the class model_index.json names; what diffusers and optimum load) with
  the fixture's `preprocessor_config.json`, called on the PIL image:
  1. `convert_to_rgb`, then a uint8 `[H, W, 3]` array;
  2. resize: `get_resize_output_image_size(size=shortest_edge, default_to_square=False)`:
     `short, long = (W, H) if W <= H else (H, W)`, new short side 224, new long side
     `int(224 * long / short)` (float division, truncated), e.g. 96x64 -> 336x224, 450x301 ->
     334x224; then the array goes to PIL (`Image.fromarray`, no rescaling for uint8),
     `img.resize((w, h), resample=3 (BICUBIC), reducing_gap=None)` and back to uint8;
  3. center crop 224x224: `top = (h - 224) // 2`, `left = (w - 224) // 2`, on the uint8 image;
  4. rescale: `x.astype(float64) * rescale_factor` (0.00392156862745098), cast to float32;
  5. normalize: `(x - mean) / std` in float32 (mean, std: the OpenAI CLIP values as float32);
  6. channels first: float32 `[3, 224, 224]`.
  Steps 4-5 act per element, so `pixel_values[c][y][x] = lut[c][crop[y][x][c]]`: `lut_bits[c][v]`
  are the float32 bits (uint32) for value v in channel c (the processor's own rescale + normalize
  of all 256 values). `entries`: `[{"input", "width", "height", "resized_width",
  "resized_height", "crop_left", "crop_top", "crop_file", "crop_fnv1a64",
  "pixel_values_fnv1a64", "rows"?, "onnx_nsfw"}]`: `crop_file` is the uint8 `[224, 224, 3]` crop
  as a PNG (six inputs) or null; `crop_fnv1a64` hashes the crop's bytes (HWC order),
  `pixel_values_fnv1a64` the float32 little-endian bytes of `[3, 224, 224]` (C order); FNV-1a 64:
  `h = 0xcbf29ce484222325`, per byte `h = (h ^ b) * 0x100000001b3 mod 2^64`, 16 lowercase hex
  digits. `rows` (inputs/init_96x64.png and inputs/clip_450x301.png): for channel c in 0..3 and row
  y in (0, 111, 223) the 224 float32 bits of `pixel_values[c][y]`. `onnx_nsfw`: the graph on this
  input alone (batch 1, `images` = RGB8 / 255). Inputs: the 11 `files_unchecked` of `safety.json`,
  `inputs/init_64.png`, `inputs/init_96x64.png`, and `inputs/clip_300x200.png`,
  `inputs/clip_200x300.png`, `inputs/clip_450x301.png` (width x height; `init_picture()` like the
  other inputs; 450x301 is downscaled, the others upscaled). The full pixel_values (602,112 bytes
  each) are not stored: they follow from the crop and the table, and the hashes check them.
"""


def main():
    if "--edit-only" in sys.argv:
        make_edit_goldens()
        write_readme()
        return
    if "--safety-only" in sys.argv:
        make_safety_goldens()
        write_readme()
        return
    GOLDENS.mkdir(parents=True, exist_ok=True)
    make_randn()
    make_pndm_timesteps()
    make_pndm_steps()
    make_tokens()
    make_images()
    make_edit_goldens()
    make_safety_goldens()
    import make_cuda_goldens

    make_cuda_goldens.make_images()
    make_cuda_goldens.make_scheduler_noise()  # last: it changes torch's float32 functions
    write_readme()
    total = 0
    for p in sorted(GOLDENS.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"    {p.stat().st_size:>9}  {p.relative_to(REPO)}")
    print(f"goldens total: {total} bytes")


if __name__ == "__main__":
    main()
