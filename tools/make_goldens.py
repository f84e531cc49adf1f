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
    (GOLDENS / "README.md").write_text(text, encoding="utf-8")


def main():
    GOLDENS.mkdir(parents=True, exist_ok=True)
    make_randn()
    make_pndm_timesteps()
    make_pndm_steps()
    make_tokens()
    make_images()
    write_readme()
    total = 0
    for p in sorted(GOLDENS.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"    {p.stat().st_size:>9}  {p.relative_to(REPO)}")
    print(f"goldens total: {total} bytes")


if __name__ == "__main__":
    main()
