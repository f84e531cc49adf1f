#!/usr/bin/env python3
"""Goldens for weighted and long prompts (`PromptWeighting::A1111`), from the algorithm as
AUTOMATIC1111's stable-diffusion-webui describes it (the "Original" emphasis), written here
independently of sdrt:

- parse: `(text)` x1.1, `[text]` /1.1, `(text:w)` xw, nesting multiplies, `\\(` `\\)` `\\[`
  `\\]` `\\\\` literal, a lone backslash dropped, unbalanced `(`/`[` apply to the rest, unmatched
  `)`/`]` and a `:` without `number)` literal, runs of equal weight merged (no BREAK);
- tokenize each piece with transformers' CLIPTokenizer (no special tokens, no truncation),
  fill 75-token chunks; when a chunk is full and its last comma is at most 20 tokens from the
  end, the tokens after the comma move on; each chunk is BOS + tokens + EOS padded with the
  tokenizer's pad id to 77, weight 1.0 for BOS/EOS/padding;
- each chunk through the fixture's ONNX text encoder (onnxruntime, batch 1), `z * w` per token,
  then `z * (mean(z) / mean(z * w))` (means over the whole chunk, accumulated in float64,
  taken in float32; skipped when `mean(z * w)` is 0); chunks concatenated on the token axis;
  the shorter of prompt and negative prompt padded with the empty prompt's chunk.

The embeddings go to optimum's ORTStableDiffusionPipeline (`prompt_embeds=`,
`negative_prompt_embeds=`, numpy `latents=` as tools/make_goldens.py draws them).

SDXL (tiny-sdxl-weighted) as A1111 conditions it: both encoders chunk alike, each chunk's
penultimate hidden states weighted and rescaled per encoder, the encoders side by side, the
pooled `text_embeds` of the first chunk; ORTStableDiffusionXLPipeline gets `prompt_embeds`,
`pooled_prompt_embeds` (and the negative ones, or none: its force_zeros_for_empty_prompt).

Writes tests/goldens/weighted.json (token-weight lists and image cases),
tests/goldens/weighted/*.png, and the images of two wrong variants (no rescale; one rescale over
the whole concatenated tensor) in weighted.json's "wrong" and "sdxl_wrong" lists, for the
sensitivity tests.

Run from the repository root (after tools/make_weighted_fixture.py):

    /work/venv/bin/python tools/make_weighted_goldens.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
GOLDENS = REPO / "tests" / "goldens"
MODEL = "tiny-sd2-weighted"
CHUNK = 75
BACKTRACK = 20

# The pattern A1111 describes: escapes, brackets, `:number)`, text runs, a lone colon.
ATTENTION = re.compile(r"""
\\\(|\\\)|\\\[|\\]|\\\\|\\|
\(|\[|
:\s*([+-]?[.\d]+)\s*\)|
\)|]|
[^\\()\[\]:]+|
:
""", re.X)


def parse(text):
    res, round_, square = [], [], []

    def multiply(start, m):
        for p in range(start, len(res)):
            res[p][1] *= m

    for m in ATTENTION.finditer(text):
        t, w = m.group(0), m.group(1)
        if t.startswith("\\"):
            res.append([t[1:], 1.0])
        elif t == "(":
            round_.append(len(res))
        elif t == "[":
            square.append(len(res))
        elif w is not None and round_:
            weight = float(w)  # raises for "1.2.3", as A1111 does
            if not np.isfinite(weight):
                raise ValueError("not finite")
            multiply(round_.pop(), weight)
        elif t == ")" and round_:
            multiply(round_.pop(), 1.1)
        elif t == "]" and square:
            multiply(square.pop(), 1 / 1.1)
        else:
            res.append([t, 1.0])
    for p in round_:
        multiply(p, 1.1)
    for p in square:
        multiply(p, 1 / 1.1)
    if not res:
        res = [["", 1.0]]
    i = 0
    while i + 1 < len(res):
        if res[i][1] == res[i + 1][1]:
            res[i][0] += res[i + 1][0]
            res.pop(i + 1)
        else:
            i += 1
    return res


def chunks(tok, text):
    parsed = parse(text)
    ids_per_piece = tok([t for t, _ in parsed], truncation=False, add_special_tokens=False)["input_ids"]
    comma = tok.convert_tokens_to_ids(",</w>")
    out = []
    ids, ws, last_comma = [], [], -1

    def finish(ids, ws):
        pad = CHUNK - len(ids)
        out.append(([tok.bos_token_id] + ids + [tok.eos_token_id] + [tok.pad_token_id] * pad,
                     [1.0] + ws + [1.0] + [1.0] * pad))

    for piece_ids, (_, weight) in zip(ids_per_piece, parsed):
        for token in piece_ids:
            if token == comma:
                last_comma = len(ids)
            elif len(ids) == CHUNK and last_comma != -1 and len(ids) - last_comma <= BACKTRACK:
                cut = last_comma + 1
                finish(ids[:cut], ws[:cut])
                ids, ws, last_comma = ids[cut:], ws[cut:], -1
            if len(ids) == CHUNK:
                finish(ids, ws)
                ids, ws, last_comma = [], [], -1
            ids.append(token)
            ws.append(weight)
    if ids or not out:
        finish(ids, ws)
    return out


def mean32(z):
    return np.float32(z.astype(np.float64).mean())


def weight_and_concat(states, rescale):
    """A1111's emphasis over one encoder's chunks: `states` is `[(z [77, hidden], weights)]`;
    each z multiplied by its token weights and, for `rescale` "chunk" (A1111), scaled back to
    its unweighted mean; "none" and "whole" (one rescale over the concatenation) are the wrong
    variants. Returns `[chunks * 77, hidden]`."""
    zs, befores = [], []
    for z, ws in states:
        before = mean32(z)
        z = z * np.array(ws, dtype=np.float32)[:, None]
        after = mean32(z)
        if rescale == "chunk" and after != 0:
            z = z * (before / after)
        zs.append(z)
        befores.append(before)
    z = np.concatenate(zs, axis=0)
    if rescale == "whole":
        after = mean32(z)
        before = np.float32(np.mean(np.array(befores, dtype=np.float64)))
        if after != 0:
            z = z * (before / after)
    return z


def encode(session, tok, text, rescale="chunk"):
    """`[1, chunks * 77, hidden]` float32. `rescale`: as `weight_and_concat`."""
    states = [(session.run(["last_hidden_state"], {"input_ids": np.array([ids], dtype=np.int64)})[0][0], ws)
              for ids, ws in chunks(tok, text)]
    return weight_and_concat(states, rescale)[None]


def encode_sdxl(sessions, toks, text, rescale="chunk"):
    """SDXL as A1111 conditions it: each encoder chunks `text` alike (its own tokenizer), its
    penultimate hidden states (`hidden_states.{N-1}`) weighted and rescaled per chunk; the
    encoders side by side, the chunks concatenated; `text_embeds` of the first chunk.
    Returns `([1, chunks * 77, h1 + h2], [1, projection])`."""
    parts, pooled = [], None
    for (session, layers), tok in zip(sessions, toks):
        states = []
        for k, (ids, ws) in enumerate(chunks(tok, text)):
            names = [f"hidden_states.{layers - 1}"] + (["text_embeds"] if k == 0 and layers_has_pooled(session) else [])
            out = session.run(names, {"input_ids": np.array([ids], dtype=np.int64)})
            if len(out) > 1:
                pooled = out[1]
            states.append((out[0][0], ws))
        parts.append(weight_and_concat(states, rescale))
    return np.concatenate(parts, axis=-1)[None], pooled


def layers_has_pooled(session):
    return any(o.name == "text_embeds" for o in session.get_outputs())


def pad_to(z, empty, n):
    while z.shape[1] < n:
        z = np.concatenate([z, empty], axis=1)
    return z


LONG = ("a (highly detailed:1.2) oil painting of an ancient castle on a misty hill at sunrise, "
        "golden light, [dramatic clouds], flock of birds, winding river, lush green forest, "
        "tiny village with red roofs, cobblestone road, horse drawn carriage, (stone bridge), "
        "old lighthouse, (((stormy sea))), sailing ships, seagulls, cliffs, a (lonely:0.6) "
        "shepherd with sheep, wildflowers, rolling hills, windmills, a [[quiet]] monastery")

# Two chunks of very different weights: what the sensitivity test needs (the tiny UNet responds
# weakly to weights near 1).
STRONG = ("(" + " ".join(["a castle on a hill"] * 15) + " under the sun:1.8) "
          "[[[[[[[[[[[seagulls over sailing ships near the cliffs]]]]]]]]]]]")

TOKEN_CASES = [
    "a red fox",
    "a (red:1.3) fox",
    "an (important) word, a [minor] one",
    "((nested (deep:1.5)) words) [[down]] here",
    "\\(literal\\) \\[brackets\\] and a back\\\\slash",
    "a lone \\ backslash and \\x",
    "(unbalanced open and [square",
    "unbalanced close) and ] here",
    "(word:abc) stays text",
    "(word:-0.5) negative and (zero:0) weight",
    "a:1.2) colon without an open bracket",
    "(a: 1.25 ) spaced weight",
    "",
    "(((())))",
    LONG,
    # a weighted word straddling the 75-token boundary (no comma within 20 tokens)
    " ".join(["cat"] * 74) + " (supercalifragilistic:1.4) dog",
    # the comma backtrack: a comma 10 tokens before the boundary moves what follows
    " ".join(["cat"] * 64) + ", " + " ".join(["dog"] * 20),
    # a comma 25 tokens before the boundary: too far, no backtrack
    " ".join(["cat"] * 49) + ", " + " ".join(["dog"] * 40),
    # exactly 75 tokens, then 150
    " ".join(["cat"] * 75),
    " ".join(["(cat)"] * 150),
]

REFUSED = ["(a:1.2.3)", "(a:.)", "(a:" + "9" * 400 + ")"]

IMAGE_CASES = [
    # name, prompt, negative, seed
    ("weighted_short", "a (red:1.5) fox in [snow], (((forest)))", "blurry, (low quality:1.3)", 42),
    ("weighted_long", LONG, "(blurry:1.4), [cartoon]", 7),
    ("weighted_long_negative", "a (small:1.2) house", LONG, 3),
    ("weighted_zero", "(everything:0)", None, 5),
    ("weighted_strong", STRONG, None, 7),
]
W, H, STEPS, GUIDANCE = 64, 64, 6, 7.5

SDXL_MODEL = "tiny-sdxl-weighted"
SDXL_CASES = [
    # name, prompt, negative (None: force_zeros_for_empty_prompt's zeros), seed
    ("sdxl_weighted_long", LONG, "(blurry:1.4), [cartoon]", 7),
    ("sdxl_weighted_zeros", "a (red:1.5) fox in [snow], (((forest)))", None, 42),
    ("sdxl_weighted_strong", STRONG, None, 7),
]
SDXL_STEPS, SDXL_GUIDANCE = 5, 5.0


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def images(pipe, session, tok, rescale, prefix, cases):
    from PIL import Image

    empty = encode(session, tok, "", rescale)
    entries = []
    for name, prompt, neg, seed in cases:
        cond = encode(session, tok, prompt, rescale)
        uncond = encode(session, tok, neg or "", rescale)
        n = max(cond.shape[1], uncond.shape[1])
        cond, uncond = pad_to(cond, empty, n), pad_to(uncond, empty, n)
        lat = np.random.RandomState(seed).randn(1, 4, H // 8, W // 8).astype(np.float32)
        out = pipe(prompt_embeds=torch.from_numpy(cond), negative_prompt_embeds=torch.from_numpy(uncond),
                   width=W, height=H, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                   latents=torch.from_numpy(lat), output_type="np").images
        img = (np.asarray(out)[0] * 255).round().astype("uint8")
        fname = f"weighted/{prefix}{name}.png"
        Image.fromarray(img).save(GOLDENS / fname, optimize=False)
        entries.append({"name": prefix + name, "model": MODEL, "prompt": prompt, "negative_prompt": neg,
                        "width": W, "height": H, "steps": STEPS, "guidance": GUIDANCE, "seed": seed,
                        "count": 1, "scheduler": None, "generator": "numpy", "eta": 0.0,
                        "chunks": n // 77, "files": [fname]})
        f = img.astype(np.float64)
        print(f"  {prefix + name:36s} chunks={n // 77} mean={f.mean():.1f} std={f.std():.1f}")
    return entries


def sdxl_images(pipe, sessions, toks, rescale, prefix, cases):
    from PIL import Image

    empty = encode_sdxl(sessions, toks, "", rescale)[0]
    entries = []
    for name, prompt, neg, seed in cases:
        cond, pooled = encode_sdxl(sessions, toks, prompt, rescale)
        kw = dict(prompt_embeds=cond, pooled_prompt_embeds=pooled)
        n = cond.shape[1]
        if neg is not None:
            uncond, neg_pooled = encode_sdxl(sessions, toks, neg, rescale)
            n = max(n, uncond.shape[1])
            kw = dict(prompt_embeds=pad_to(cond, empty, n), pooled_prompt_embeds=pooled,
                      negative_prompt_embeds=pad_to(uncond, empty, n),
                      negative_pooled_prompt_embeds=neg_pooled)
        # else: the pipeline's force_zeros_for_empty_prompt makes zeros of the prompt's shape.
        kw = {k: torch.from_numpy(v) for k, v in kw.items()}
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
        lat = np.random.RandomState(seed).randn(1, 4, H // 8, W // 8).astype(np.float32)
        out = pipe(width=W, height=H, num_inference_steps=SDXL_STEPS, guidance_scale=SDXL_GUIDANCE,
                   latents=torch.from_numpy(lat), output_type="np", **kw).images
        img = (np.asarray(out)[0] * 255).round().astype("uint8")
        fname = f"weighted/{prefix}{name}.png"
        Image.fromarray(img).save(GOLDENS / fname, optimize=False)
        entries.append({"name": prefix + name, "model": SDXL_MODEL, "prompt": prompt,
                        "negative_prompt": neg, "width": W, "height": H, "steps": SDXL_STEPS,
                        "guidance": SDXL_GUIDANCE, "seed": seed, "count": 1, "scheduler": None,
                        "generator": "numpy", "eta": 0.0, "chunks": n // 77, "files": [fname]})
        f = img.astype(np.float64)
        print(f"  {prefix + name:36s} chunks={n // 77} mean={f.mean():.1f} std={f.std():.1f}")
    return entries


def make_sdxl():
    import onnxruntime as ort
    from optimum.onnxruntime import ORTStableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    model = FIXTURES / SDXL_MODEL
    toks, sessions = [], []
    for tok_dir, part in [("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2")]:
        toks.append(CLIPTokenizer.from_pretrained(str(model / tok_dir)))
        layers = json.loads((model / part / "config.json").read_text())["num_hidden_layers"]
        sessions.append((ort.InferenceSession(str(model / part / "model.onnx"),
                                              providers=["CPUExecutionProvider"]), layers))
    pipe = ORTStableDiffusionXLPipeline.from_pretrained(str(model), provider="CPUExecutionProvider")
    pipe.set_progress_bar_config(disable=True)
    right = sdxl_images(pipe, sessions, toks, "chunk", "", SDXL_CASES)
    strong = [c for c in SDXL_CASES if c[0] == "sdxl_weighted_strong"]
    wrong = (sdxl_images(pipe, sessions, toks, "none", "no_rescale_", strong)
             + sdxl_images(pipe, sessions, toks, "whole", "whole_rescale_", strong))
    return right, wrong


def main():
    import onnxruntime as ort
    from optimum.onnxruntime import ORTStableDiffusionPipeline
    from transformers import CLIPTokenizer

    model = FIXTURES / MODEL
    tok = CLIPTokenizer.from_pretrained(str(model / "tokenizer"))
    session = ort.InferenceSession(str(model / "text_encoder" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    tokens = []
    for text in TOKEN_CASES:
        cs = chunks(tok, text)
        tokens.append({"text": text, "chunks": [{"ids": i, "weights": w} for i, w in cs]})
    for text in REFUSED:
        try:
            chunks(tok, text)
        except ValueError:
            continue
        sys.exit(f"{text!r} was expected to be refused")

    out_dir = GOLDENS / "weighted"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    pipe = ORTStableDiffusionPipeline.from_pretrained(str(model), provider="CPUExecutionProvider")
    pipe.set_progress_bar_config(disable=True)
    right = images(pipe, session, tok, "chunk", "", IMAGE_CASES)
    long_cases = [c for c in IMAGE_CASES if c[0] == "weighted_strong"]
    wrong = (images(pipe, session, tok, "none", "no_rescale_", long_cases)
             + images(pipe, session, tok, "whole", "whole_rescale_", long_cases))
    sdxl_right, sdxl_wrong = make_sdxl()
    write_json(GOLDENS / "weighted.json", {"tokens": tokens, "refused": REFUSED,
                                           "images": right, "wrong": wrong,
                                           "sdxl_images": sdxl_right, "sdxl_wrong": sdxl_wrong})
    print("wrote", (GOLDENS / "weighted.json").relative_to(REPO))


if __name__ == "__main__":
    main()
