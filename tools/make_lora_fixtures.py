#!/usr/bin/env python3
"""Write tests/fixtures/loras/: small LoRA files with random weights for the tiny fixtures
(tiny-sd2, tiny-sdxl), in the two layouts people load, plus broken files for the refusal tests.

Run from the repository root (no fixture is rebuilt; the torch pipelines of
tools/make_tiny_model.py and tools/make_tiny_sdxl.py are rebuilt in memory for the module
names and shapes, and for the check below):

    /work/venv/bin/python tools/make_lora_fixtures.py

Deterministic: every matrix is drawn from numpy's legacy `RandomState(<file seed>)` in
the sorted order of the module names, A (down) first then B (up), float64 cast to float32:

    A = randn(r, in) / sqrt(in)          B = randn(out, r) * B_GAIN / sqrt(r)

PEFT initializes B to zero (a fresh LoRA changes nothing); here B is random and large enough
that the image visibly changes (see tests/goldens/lora.json's mean |diff| per case).

Files:

- `sd2_unet.safetensors`: tiny-sd2 UNet only, PEFT form exactly as
  `StableDiffusionPipeline.save_lora_weights(unet_lora_layers=get_peft_model_state_dict(unet))`
  writes it: `unet.<module>.lora_A.weight` [r, in], `unet.<module>.lora_B.weight` [out, r];
  rank 4; targets to_q, to_k, to_v, to_out.0 (attn1 and attn2). No adapter metadata: safetensors
  `__metadata__` is only `{"format": "pt"}`.
- `sd2_te_unet.safetensors`: text encoder (`text_encoder.text_model.encoder.layers.N.self_attn.
  {q,k,v,out}_proj`) and UNet (to_q, to_k, to_v, to_out.0, ff.net.0.proj, ff.net.2, proj_in,
  proj_out), rank 8, WITH adapter metadata as diffusers' training scripts write it
  (`save_lora_weights(..., unet_lora_adapter_metadata=unet.peft_config[...].to_dict(), ...)`):
  `__metadata__["lora_adapter_metadata"]` is a JSON string of the LoraConfig dicts with keys
  prefixed `unet.` / `text_encoder.` (`"unet.r": 8, "unet.lora_alpha": 4, ...`). Here
  UNet lora_alpha 4 (scale alpha/r = 0.5) and text encoder lora_alpha 16 (scale 2.0).
- `sd2_kohya.safetensors`: kohya-ss form: `lora_unet_<module with _>.lora_down.weight` [r, in],
  `.lora_up.weight` [out, r], `.alpha` (0-d float32 tensor), UNet (to_q, to_k, to_v, to_out_0,
  proj_in, proj_out) and text encoder (`lora_te_text_model_encoder_layers_N_self_attn_q_proj`
  ...); rank 4, alpha 2 everywhere (scale 0.5).
- `sdxl.safetensors`: tiny-sdxl, PEFT form as `StableDiffusionXLPipeline.save_lora_weights`
  writes it: `unet.` (to_q, to_k, to_v, to_out.0), `text_encoder.` and `text_encoder_2.`
  (q/k/v/out_proj), rank 4, no adapter metadata.
- `not_safetensors.safetensors`: 1000 random bytes (RandomState(5)).
- `nothing_matches.safetensors`: valid safetensors, PEFT keys naming modules that do not exist
  in tiny-sd2 (`unet.down_blocks.9...`, `text_encoder.text_model.encoder.layers.7...`).
- `bad_rank.safetensors`: PEFT keys for tiny-sd2's UNet; one module (down_blocks.0 ...
  attn1.to_k) has lora_A [4, 16] but lora_B [16, 3]; the other modules are well formed.

How diffusers 0.39 scales them (`load_lora_weights`, then `fuse_lora(lora_scale=s)`: each
target weight becomes W + s * (lora_alpha / r) * B @ A):

- PEFT form without metadata: `get_peft_kwargs` sets lora_alpha = r, i.e. scale 1 * s.
- PEFT form with `lora_adapter_metadata`: `LoraConfig(**metadata)`, so lora_alpha / r from the
  metadata (sd2_te_unet: 0.5 on the UNet, 2.0 on the text encoder), times s.
- kohya: `_convert_non_diffusers_lora_to_diffusers` turns each `.alpha` into a network alpha,
  which becomes LoraConfig's lora_alpha (alpha_pattern where they differ): alpha / r (0.5 here),
  times s.
- `set_adapters([a, b], adapter_weights=[wa, wb])` then `fuse_lora(lora_scale=1)`: W + wa *
  (alpha_a / r_a) B_a A_a + wb * (alpha_b / r_b) B_b A_b.

`verify()` loads every good file into the rebuilt torch pipeline with diffusers'
`load_lora_weights` + `fuse_lora` and checks that every weight is W + scale * B @ A as computed
here from the file (and that the other weights did not move); the script fails if not.
"""

from __future__ import annotations

import json
import os
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

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "loras"

B_GAIN = 1.0

UNET_ATTN = ["to_q", "to_k", "to_v", "to_out.0"]
UNET_MORE = UNET_ATTN + ["ff.net.0.proj", "ff.net.2", "proj_in", "proj_out"]
UNET_KOHYA = UNET_ATTN + ["proj_in", "proj_out"]
TE_ATTN = ["q_proj", "k_proj", "v_proj", "out_proj"]

# name: (pipeline, {component: (targets, rank, lora_alpha or None)}, seed, form)
# lora_alpha None: no adapter metadata in the file (diffusers then uses alpha = r).
SPECS = {
    "sd2_unet": ("sd2", {"unet": (UNET_ATTN, 4, None)}, 1001, "peft"),
    "sd2_te_unet": ("sd2", {"text_encoder": (TE_ATTN, 8, 16), "unet": (UNET_MORE, 8, 4)}, 1002, "peft"),
    "sd2_kohya": ("sd2", {"text_encoder": (TE_ATTN, 4, 2), "unet": (UNET_KOHYA, 4, 2)}, 1003, "kohya"),
    "sdxl": ("sdxl", {"text_encoder": (TE_ATTN, 4, None), "text_encoder_2": (TE_ATTN, 4, None),
                      "unet": (UNET_ATTN, 4, None)}, 1004, "peft"),
}
KOHYA_PREFIX = {"unet": "lora_unet_", "text_encoder": "lora_te_", "text_encoder_2": "lora_te2_"}


# --------------------------------------------------------------------------
# the base pipelines
# --------------------------------------------------------------------------
def build_sd2(workdir: Path):
    import make_tiny_model

    return make_tiny_model.build_pipeline(workdir)


def build_sdxl(workdir: Path):
    import make_tiny_sdxl

    return make_tiny_sdxl.build_base(workdir)


def build(kind: str, workdir: Path):
    return build_sd2(workdir) if kind == "sd2" else build_sdxl(workdir)


def targets_of(model, targets):
    """[(module name, in, out)] of the nn.Linear modules PEFT's target_modules would match
    (the name equals a target or ends with '.' + target), sorted by name."""
    out = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and any(name == t or name.endswith("." + t) for t in targets):
            out.append((name, mod.in_features, mod.out_features))
    return sorted(out)


# --------------------------------------------------------------------------
# drawing and writing
# --------------------------------------------------------------------------
def draw(modules, rank, rs):
    """{module: (A [r, in], B [out, r])} float32, drawn in the order of `modules`."""
    mats = {}
    for name, fin, fout in modules:
        a = (rs.randn(rank, fin) / np.sqrt(fin)).astype(np.float32)
        b = (rs.randn(fout, rank) * B_GAIN / np.sqrt(rank)).astype(np.float32)
        mats[name] = (a, b)
    return mats


def lora_config_dict(targets, rank, alpha):
    """The adapter metadata diffusers' training scripts save: LoraConfig(...).to_dict()."""
    from peft import LoraConfig

    d = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=targets).to_dict()
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in d.items()}


def write_peft(path: Path, kind, comps):
    """comps: {component: (mats, rank, alpha or None, targets)}; written by the pipeline class's
    own save_lora_weights."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    cls = StableDiffusionPipeline if kind == "sd2" else StableDiffusionXLPipeline
    kw = {}
    for comp, (mats, rank, alpha, targets) in comps.items():
        sd = {}
        for name, (a, b) in mats.items():
            sd[f"{name}.lora_A.weight"] = torch.from_numpy(a)
            sd[f"{name}.lora_B.weight"] = torch.from_numpy(b)
        kw[f"{comp}_lora_layers"] = sd
        if alpha is not None:
            kw[f"{comp}_lora_adapter_metadata"] = lora_config_dict(targets, rank, alpha)
    with tempfile.TemporaryDirectory() as td:
        cls.save_lora_weights(td, weight_name="lora.safetensors", **kw)
        path.write_bytes((Path(td) / "lora.safetensors").read_bytes())
    canonical_header(path)


def canonical_header(path: Path):
    """safetensors keeps `__metadata__` in a hash map, so the order of its keys (here "format"
    and "lora_adapter_metadata") changes from run to run; put them in sorted order (same header
    length, same JSON otherwise) so the files are byte-for-byte reproducible."""
    import struct

    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=dict)
    if "__metadata__" not in header:
        return
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    meta = {"__metadata__": header.pop("__metadata__")}
    text = json.dumps({**meta, **header}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert len(text) <= n, (len(text), n)
    text += b" " * (n - len(text))
    path.write_bytes(data[:8] + text + data[8 + n:])


def write_kohya(path: Path, comps):
    from safetensors.torch import save_file

    sd = {}
    for comp, (mats, rank, alpha, _) in comps.items():
        for name, (a, b) in mats.items():
            key = KOHYA_PREFIX[comp] + name.replace(".", "_")
            sd[f"{key}.lora_down.weight"] = torch.from_numpy(a)
            sd[f"{key}.lora_up.weight"] = torch.from_numpy(b)
            sd[f"{key}.alpha"] = torch.tensor(float(alpha), dtype=torch.float32)
    save_file(sd, str(path))


def make_file(name, pipes):
    kind, comps_spec, seed, form = SPECS[name]
    pipe = pipes[kind]
    rs = np.random.RandomState(seed)
    comps = {}
    for comp in sorted(comps_spec):
        targets, rank, alpha = comps_spec[comp]
        modules = targets_of(getattr(pipe, comp), targets)
        assert modules, (name, comp)
        comps[comp] = (draw(modules, rank, rs), rank, alpha, targets)
    path = OUT / f"{name}.safetensors"
    if form == "peft":
        write_peft(path, kind, comps)
    else:
        write_kohya(path, comps)
    return path


def make_bad_files(pipe):
    from safetensors.torch import save_file

    (OUT / "not_safetensors.safetensors").write_bytes(np.random.RandomState(5).bytes(1000))

    rs = np.random.RandomState(6)
    sd = {}
    for mod, fin, fout in [("unet.down_blocks.9.attentions.0.transformer_blocks.0.attn1.to_q", 16, 16),
                           ("unet.down_blocks.9.attentions.0.transformer_blocks.0.attn1.to_k", 16, 16),
                           ("text_encoder.text_model.encoder.layers.7.self_attn.q_proj", 32, 32)]:
        sd[f"{mod}.lora_A.weight"] = torch.from_numpy((rs.randn(4, fin) / np.sqrt(fin)).astype(np.float32))
        sd[f"{mod}.lora_B.weight"] = torch.from_numpy((rs.randn(fout, 4) / 2).astype(np.float32))
    save_file(sd, str(OUT / "nothing_matches.safetensors"), metadata={"format": "pt"})
    canonical_header(OUT / "nothing_matches.safetensors")

    rs = np.random.RandomState(7)
    sd = {}
    bad = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k"
    for mod, fin, fout in targets_of(pipe.unet, ["to_q", "to_k"])[:4]:
        rb = 3 if mod == bad else 4
        sd[f"unet.{mod}.lora_A.weight"] = torch.from_numpy((rs.randn(4, fin) / np.sqrt(fin)).astype(np.float32))
        sd[f"unet.{mod}.lora_B.weight"] = torch.from_numpy((rs.randn(fout, rb) / 2).astype(np.float32))
    assert f"unet.{bad}.lora_B.weight" in sd
    save_file(sd, str(OUT / "bad_rank.safetensors"), metadata={"format": "pt"})
    canonical_header(OUT / "bad_rank.safetensors")


# --------------------------------------------------------------------------
# reading back and checking against diffusers
# --------------------------------------------------------------------------
def read_lora(path: Path):
    """{component: {module: (A, B, alpha_over_r)}} from a file of this folder, read
    independently of diffusers (safetensors + the metadata JSON)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
        t = {k: f.get_tensor(k) for k in f.keys()}
    adapter_meta = json.loads(meta["lora_adapter_metadata"]) if "lora_adapter_metadata" in meta else {}
    out = {}
    if any(k.startswith("lora_") for k in t):
        inv = {v: k for k, v in KOHYA_PREFIX.items()}
        for k in t:
            if not k.endswith(".lora_down.weight"):
                continue
            base = k[: -len(".lora_down.weight")]
            prefix = next(p for p in sorted(inv, key=len, reverse=True) if base.startswith(p))
            comp = inv[prefix]
            a, b = t[k], t[base + ".lora_up.weight"]
            alpha = float(t[base + ".alpha"]) if base + ".alpha" in t else a.shape[0]
            out.setdefault(comp, {})[base[len(prefix):]] = (a, b, alpha / a.shape[0])
        return out
    for k in t:
        if not k.endswith(".lora_A.weight"):
            continue
        comp, mod = k.split(".", 1)
        mod = mod[: -len(".lora_A.weight")]
        a, b = t[k], t[f"{comp}.{mod}.lora_B.weight"]
        r = a.shape[0]
        alpha = adapter_meta.get(f"{comp}.lora_alpha", r)
        assert adapter_meta.get(f"{comp}.r", r) == r
        out.setdefault(comp, {})[mod] = (a, b, alpha / r)
    return out


def kohya_module(comp, model, flat):
    """The module name whose underscores-for-dots spelling is `flat`."""
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n.replace(".", "_") == flat]
    assert len(names) == 1, (comp, flat, names)
    return names[0]


def expected_weights(pipe, loras, skip_modules=()):
    """{(component, module): W + sum s * (alpha/r) * B @ A} in float64 -> float32, for
    loras = [(path, scale)]."""
    deltas = {}
    for path, scale in loras:
        for comp, mods in read_lora(path).items():
            model = getattr(pipe, comp)
            for mod, (a, b, ar) in mods.items():
                if "." not in mod:
                    mod = kohya_module(comp, model, mod)
                if any(mod.endswith(s) for s in skip_modules):
                    continue
                d = scale * ar * (b.double() @ a.double())
                deltas[(comp, mod)] = deltas.get((comp, mod), 0) + d
    want = {}
    for (comp, mod), d in deltas.items():
        w = getattr(pipe, comp).get_submodule(mod).weight.detach().double()
        want[(comp, mod)] = (w + d).float()
    return want


def base_weights(pipe, comps=("text_encoder", "text_encoder_2", "unet")):
    out = {}
    for comp in comps:
        model = getattr(pipe, comp, None)
        if model is None:
            continue
        for k, v in model.state_dict().items():
            out[(comp, k)] = v.detach().clone()
    return out


def check_fused(pipe, before, want, label, tol=2e-6):
    """Every weight of the fused pipeline equals `want` (LoRA targets) or `before` (the rest)."""
    worst = 0.0
    for (comp, k), w0 in before.items():
        model = getattr(pipe, comp)
        sd_key = k
        cur = model.state_dict()
        if sd_key not in cur:
            # PEFT wraps the fused layer: base_layer.weight
            alt = k.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
            sd_key = alt
        w = cur[sd_key]
        mod = k.rsplit(".", 1)[0]
        target = want.get((comp, mod)) if k.endswith(".weight") else None
        ref = target if target is not None else w0
        err = float((w.double() - ref.double()).abs().max())
        scale = float(ref.abs().max()) + 1e-12
        if err > tol * max(1.0, scale):
            raise SystemExit(f"[{label}] {comp}.{k}: fused weight differs from W + s*(alpha/r)*B@A by {err}")
        worst = max(worst, err)
    n = len(want)
    print(f"[{label}] fused weights match the math ({n} modules changed, max |err| {worst:.2e})")
    return worst


def load_and_fuse(pipe, loras, names=None, lora_scale=1.0, weights=None):
    """diffusers' way: load_lora_weights each file (or state dict) as its own adapter,
    set_adapters with `weights` when several, fuse_lora(lora_scale), unload_lora_weights (the
    fused weights stay)."""
    names = names or [f"a{i}" for i in range(len(loras))]
    for src, n in zip(loras, names):
        if isinstance(src, Path):
            pipe.load_lora_weights(str(src.parent), weight_name=src.name, adapter_name=n)
        else:
            pipe.load_lora_weights(src, adapter_name=n)
    if weights is not None:
        pipe.set_adapters(names, adapter_weights=weights)
    pipe.fuse_lora(lora_scale=lora_scale, adapter_names=names)
    pipe.unload_lora_weights()
    return pipe


def verify(pipes_factory):
    """Load each good file with diffusers, fuse at 1.0, compare with the math."""
    for name, (kind, _, _, _) in SPECS.items():
        pipe = pipes_factory(kind)
        before = base_weights(pipe)
        want = expected_weights(pipe, [(OUT / f"{name}.safetensors", 1.0)])
        load_and_fuse(pipe, [OUT / f"{name}.safetensors"])
        check_fused(pipe, before, want, name)


def describe(path: Path, n=4):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
        print(f"{path.relative_to(REPO)}: {path.stat().st_size} bytes, {len(keys)} tensors, metadata keys {sorted(meta or {})}")
        for k in keys[:n]:
            print(f"    {k} {list(f.get_slice(k).get_shape())}")
        if meta and "lora_adapter_metadata" in meta:
            m = json.loads(meta["lora_adapter_metadata"])
            print("    metadata:", {k: v for k, v in m.items() if k.split(".", 1)[1] in ("r", "lora_alpha", "target_modules")})


def onnx_node_name(comp, module):
    """The name optimum's export (torch.onnx, TorchScript scopes) gives the MatMul of a Linear:
    one `/` segment per attribute, a ModuleList index joined to its list's name by a dot:
    unet `down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj` ->
    `/down_blocks.0/attentions.0/transformer_blocks.0/ff/net.0/proj/MatMul`; text encoder
    `text_model.encoder.layers.0.self_attn.q_proj` -> `/text_model/encoder/layers.0/self_attn/q_proj/MatMul`."""
    import re

    path = re.sub(r"\.(\d+)(?=\.|$)", r"#\1", module)  # keep list indices with their list
    return "/" + "/".join(seg.replace("#", ".") for seg in path.split(".")) + "/MatMul"


def check_onnx_targets(pipes):
    """Every module the good files target is, in the committed fixture's ONNX graph, one MatMul
    named as onnx_node_name() says, whose second input is an initializer holding the torch
    weight transposed ([in, out]); prints the layout and any initializer used by more than one
    node (the exporter merges equal initializers)."""
    import onnx
    from onnx import numpy_helper

    fixture = {"sd2": REPO / "tests" / "fixtures" / "tiny-sd2", "sdxl": REPO / "tests" / "fixtures" / "tiny-sdxl"}
    graphs = {}
    for name, (kind, comps, _, _) in SPECS.items():
        pipe = pipes[kind]
        for comp, mods in read_lora(OUT / f"{name}.safetensors").items():
            key = (kind, comp)
            if key not in graphs:
                g = onnx.load(str(fixture[kind] / comp / "model.onnx")).graph
                inits = {i.name: i for i in g.initializer}
                uses = {}
                for n in g.node:
                    for x in n.input:
                        uses[x] = uses.get(x, 0) + 1
                graphs[key] = ({n.name: n for n in g.node}, inits, uses)
            nodes, inits, uses = graphs[key]
            model = getattr(pipe, comp)
            shown = 0
            for mod in sorted(mods):
                if "." not in mod:
                    mod = kohya_module(comp, model, mod)
                node = nodes.get(onnx_node_name(comp, mod))
                assert node is not None and node.op_type == "MatMul", (kind, comp, mod)
                w = node.input[1]
                assert w in inits, (kind, comp, mod, w)
                arr = numpy_helper.to_array(inits[w])
                ref = model.get_submodule(mod).weight.detach().numpy().T
                assert arr.shape == ref.shape and np.array_equal(arr, ref), (kind, comp, mod)
                if uses[w] != 1:
                    print(f"    NOTE {kind} {comp} {mod}: initializer {w} is used by {uses[w]} nodes")
                if shown < 2:
                    print(f"    {kind} {comp} {mod} -> {node.name} weight {w} {list(arr.shape)} (W^T)")
                    shown += 1
    print("every targeted module is one MatMul of the committed graphs with W^T as an initializer")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        pipes = {"sd2": build_sd2(td / "sd2"), "sdxl": build_sdxl(td / "sdxl")}
        for name in SPECS:
            make_file(name, pipes)
        make_bad_files(pipes["sd2"])
        verify(lambda kind: build(kind, td / f"v-{kind}"))
        check_onnx_targets(pipes)
    for p in sorted(OUT.iterdir()):
        if p.suffix == ".safetensors" and p.name != "not_safetensors.safetensors":
            describe(p)
        else:
            print(f"{p.relative_to(REPO)}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
