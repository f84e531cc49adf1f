"""The floor sdrt is measured against: the ONNX Runtime sessions of a model folder (text
encoder, UNet, VAE decoder; SDXL: both text encoders) created and run bare from Python with
onnxruntime, doing the pipeline's graph work and nothing else (fixed token ids, classifier-free
guidance with a batch of two, an Euler step in numpy; SDXL: the penultimate hidden states of
both encoders concatenated, encoder 2's pooled `text_embeds`, zero embeddings for the empty
negative prompt as `force_zeros_for_empty_prompt` gives them, and `time_ids` for the output
size). What is left between this and sdrt is sdrt's.

Usage: python tools/bench_bare.py [--model DIR] [--width W] [--height H] [--steps N]
    [--runs N] [--warmup N] [--threads N] [--json FILE] [--label TEXT]
    [--arena on|off] [--mem-pattern on|off] [--spinning on|off] [--cfg batch|split]
    [--level all|extended|basic|disable] [--graph DIR] [--prepack on|off] [--io-binding]
    [--save-optimized DIR]

`--graph DIR` loads the graphs from DIR/<part>/model.onnx instead (e.g. sdrt's graph cache
entries, with `--level disable`), to time options without paying ONNX Runtime's optimizer.
The other options are the session settings whose cost `tools/bench.sh --options-rounds`
reports. `--save-optimized DIR` also writes each optimized graph (with its external data) to
DIR as sdrt's graph cache does on a miss: ONNX Runtime's own cost of a cold cache.
"""

import json
import time
from pathlib import Path

import numpy as np

from bench_common import parser, reset_peak, status_kb  # noqa: E402


def main():
    ap = parser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--arena", choices=["on", "off"], default="on")
    ap.add_argument("--mem-pattern", choices=["on", "off"], default="on")
    ap.add_argument("--spinning", choices=["on", "off"], default="on")
    ap.add_argument("--cfg", choices=["batch", "split"], default="batch")
    ap.add_argument("--level", choices=["all", "extended", "basic", "disable"], default="all")
    ap.add_argument("--graph")
    ap.add_argument("--prepack", choices=["on", "off"], default="on")
    ap.add_argument("--save-optimized")
    ap.add_argument("--io-binding", action="store_true",
                    help="run the UNet through an I/O binding with a preallocated output")
    ap.add_argument("--parts", help="the graphs to load (default: every graph the pipeline "
                    "runs: text_encoder[,text_encoder_2],unet,vae_decoder)")
    a = ap.parse_args()
    model = Path(a.model)
    sdxl = (model / "text_encoder_2").is_dir()
    if a.parts is None:
        a.parts = ",".join(p for p in ["text_encoder", "text_encoder_2", "unet", "vae_decoder"]
                           if (model / p / "model.onnx").is_file())
    scaling = json.loads((model / "vae_decoder" / "config.json").read_text()).get(
        "scaling_factor", 0.18215)

    import onnxruntime as ort

    rss0 = status_kb("VmRSS:")
    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = a.arena == "on"
    so.enable_mem_pattern = a.mem_pattern == "on"
    so.add_session_config_entry("session.intra_op.allow_spinning",
                                "1" if a.spinning == "on" else "0")
    if a.prepack == "off":
        so.add_session_config_entry("session.disable_prepacking", "1")
    so.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[a.level]
    if a.threads:
        so.intra_op_num_threads = a.threads
    parts = a.parts.split(",")
    t0 = time.perf_counter()
    sess = {}
    for part in parts:
        path = Path(a.graph or a.model) / part / "model.onnx"
        if a.graph:
            path = next(Path(a.graph).glob(f"{part}-*/model.onnx"), path)
        if a.save_optimized:
            out = Path(a.save_optimized) / part
            out.mkdir(parents=True, exist_ok=True)
            so.optimized_model_filepath = str(out / "model.onnx")
            so.add_session_config_entry(
                "session.optimized_model_external_initializers_file_name", "model.onnx.data")
            so.add_session_config_entry(
                "session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        sess[part] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    create = time.perf_counter() - t0
    create_peak = status_kb("VmHWM:")
    reset_peak()
    after_create = status_kb("VmRSS:")

    ids = np.zeros((1, 77), np.int64)
    prompt = [49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496, 49407]
    ids[0, : len(prompt)] = prompt
    uncond = np.zeros((1, 77), np.int64)
    uncond[0, :2] = [49406, 49407]
    h, w = a.height // 8, a.width // 8
    sigmas = np.linspace(14.6, 0.03, a.steps + 1).astype(np.float32)
    stage_peaks = {}

    def stage(name, fn):
        reset_peak()
        s = time.perf_counter()
        out = fn()
        d = time.perf_counter() - s
        stage_peaks[name] = max(stage_peaks.get(name, 0), status_kb("VmHWM:"))
        return out, d

    def once():
        times = {}
        s = time.perf_counter()
        pooled = None
        if sdxl and "text_encoder_2" in sess:
            def enc():
                cond, pool = [], None
                for part in ["text_encoder", "text_encoder_2"]:
                    if part not in sess:  # a refiner has only the second encoder
                        continue
                    names = [o.name for o in sess[part].get_outputs()]
                    out = dict(zip(names, sess[part].run(None, {"input_ids": ids})))
                    hidden = sorted((n for n in names if n.startswith("hidden_states.")),
                                    key=lambda n: int(n.split(".")[1]))
                    cond.append(out[hidden[-2]])
                    pool = out.get("text_embeds", pool)
                c = np.concatenate(cond, axis=-1)
                return np.concatenate([np.zeros_like(c), c]), np.concatenate(
                    [np.zeros_like(pool), pool])
            (states, pooled), times["text_encoder"] = stage("text_encoder", enc)
        elif "text_encoder" in sess:
            te = sess["text_encoder"]

            def enc():
                c = te.run(None, {"input_ids": ids})[0]
                u = te.run(None, {"input_ids": uncond})[0]
                return np.concatenate([u, c])
            states, times["text_encoder"] = stage("text_encoder", enc)
        else:
            dim = next(i for i in sess["unet"].get_inputs()
                       if i.name == "encoder_hidden_states").shape[2]
            states = np.zeros((2, 77, dim if isinstance(dim, int) else 1024), np.float32)
        added = {}
        if "unet" in sess and any(i.name == "time_ids" for i in sess["unet"].get_inputs()):
            if pooled is None:
                dim = next(i for i in sess["unet"].get_inputs() if i.name == "text_embeds").shape[1]
                pooled = np.zeros((2, dim if isinstance(dim, int) else 1280), np.float32)
            size = [a.height, a.width]
            added = {"text_embeds": pooled.astype(np.float32),
                     "time_ids": np.array([size + [0, 0] + size] * 2, np.float32)}
        lat = np.random.RandomState(42).randn(1, 4, h, w).astype(np.float32) * sigmas[0]
        un = sess.get("unet")

        def run_unet(feeds):
            if not a.io_binding:
                return un.run(None, feeds)[0]
            b = un.io_binding()
            for k, v in feeds.items():
                b.bind_cpu_input(k, v)
            out = np.empty(feeds["sample"].shape, np.float32)
            b.bind_output(un.get_outputs()[0].name, "cpu", 0, np.float32, out.shape,
                          out.ctypes.data)
            un.run_with_iobinding(b)
            return out

        def loop():
            x = lat
            for i in range(a.steps):
                inp = x / np.sqrt(sigmas[i] ** 2 + 1)
                t = np.array(999.0 * (1 - i / a.steps), np.float32)
                if a.cfg == "batch":
                    e = run_unet({"sample": np.concatenate([inp, inp]), "timestep": t,
                                  "encoder_hidden_states": states, **added})
                    eu, ec = e[:1], e[1:]
                else:
                    half = [{k: v[j:j + 1] for k, v in added.items()} for j in (0, 1)]
                    eu = run_unet({"sample": inp, "timestep": t,
                                   "encoder_hidden_states": states[:1], **half[0]})
                    ec = run_unet({"sample": inp, "timestep": t,
                                   "encoder_hidden_states": states[1:], **half[1]})
                eps = eu + a.guidance * (ec - eu)
                x = x + eps * (sigmas[i + 1] - sigmas[i])
            return x
        if un is not None:
            lat, times["unet"] = stage("unet", loop)
        if "vae_decoder" in sess:
            vd = sess["vae_decoder"]
            _, times["vae_decoder"] = stage(
                "vae_decoder",
                lambda: vd.run(None, {"latent_sample": (lat / scaling).astype(np.float32)}))
        return time.perf_counter() - s, times

    first = None
    for _ in range(a.warmup):
        d, _ = once()
        first = d if first is None else first
    calls = [once() for _ in range(a.runs)]
    total = float(np.median([c[0] for c in calls]))
    per = {k: float(np.median([c[1][k] for c in calls])) for k in calls[0][1]}
    inside = sum(per.values())
    gen_peak = max([status_kb("VmHWM:")] + list(stage_peaks.values()))
    opts = (f"arena {a.arena}, mem pattern {a.mem_pattern}, spinning {a.spinning}, cfg {a.cfg}, "
            f"level {a.level}, threads {a.threads or 'default'}"
            + (", prepacking off" if a.prepack == "off" else "")
            + (", I/O binding" if a.io_binding else "")
            + (", saving the optimized graphs" if a.save_optimized else ""))
    print(f"bare {Path(a.model).name} {a.width}x{a.height} steps={a.steps} runs={a.runs} "
          f"({opts}): create {create:.2f} s, per image {total * 1000:.1f} ms")
    print("  inside ONNX Runtime: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in per.items()))
    print(f"  peak RSS: create {create_peak / 1e9:.2f} GB, generate {gen_peak / 1e9:.2f} GB; "
          "per stage: " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in stage_peaks.items()))
    if a.json:
        rec = {
            "system": "bare-save" if a.save_optimized else "bare", "label": a.label, "model": Path(a.model).name,
            "width": a.width, "height": a.height, "steps": a.steps, "runs": a.runs,
            "options": opts, "threads": a.threads, "rss_before_create": rss0,
            "create_s": create, "first_call_s": first, "generate_s": total,
            "onnx_runtime_s": inside, "outside_s": total - inside,
            **{f"{k}_s": v for k, v in per.items()},
            "create_peak_rss": create_peak, "generate_peak_rss": gen_peak,
            "held_after_create": after_create,
            "peak_rss": max(create_peak, gen_peak), "stage_peak_rss": stage_peaks,
        }
        with open(a.json, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
