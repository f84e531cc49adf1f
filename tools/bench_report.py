"""Turns tools/bench.sh's results (one JSON object per run) into the Markdown of BENCHMARKS.md:
every run of every round, then each system's median and the issue's targets against it.

Usage: python tools/bench_report.py RESULTS.jsonl [MORE.jsonl ...] > section.md
"""

import json
import statistics
import sys
from collections import defaultdict

NAMES = {
    "sdrt": "sdrt (warm graph cache)",
    "low": "sdrt --low-memory (warm cache)",
    "cold": "sdrt (cache emptied first)",
    "off": "sdrt without the cache",
    "bare": "bare ONNX Runtime sessions (Python)",
    "bare-save": "bare sessions saving their optimized graphs",
    "optimum": "optimum ORTStableDiffusionPipeline",
}


def kind(r):
    if r["system"] != "sdrt":
        return r["system"]
    if r.get("mode") == "low-memory":
        return "low"
    return {"warm": "sdrt", "cold": "cold", "off": "off"}[r["cache"]]


def gb(x):
    return f"{x / 1e9:.2f}"


def s(x):
    return "" if x is None else f"{x:.2f}"


def main():
    runs = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()]
    main_runs = [r for r in runs if not r["label"].startswith("options")]
    options = [r for r in runs if r["label"].startswith("options")]
    out = []
    sizes = sorted({(r["width"], r["height"]) for r in main_runs})
    for w, h in sizes:
        rs = [r for r in main_runs if (r["width"], r["height"]) == (w, h)]
        model = rs[0]["model"]
        out += [f"### {model}, {w}x{h}, {rs[0]['steps']} Euler steps, guidance 7.5", "",
                "| run | system | create s | first call s | per image s | text enc / unet / vae s "
                "| outside ORT | graph loads s | peak RSS GB (create / calls) | per stage GB |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rs:
            k = kind(r)
            out_ms = r["outside_s"] * 1000
            pct = 100 * r["outside_s"] / r["generate_s"]
            stages = r.get("stage_peak_rss") or {}
            out.append(
                f"| {r['label']} | {NAMES[k]} | {s(r['create_s'])} | {s(r.get('first_call_s'))} "
                f"| {r['generate_s']:.2f} | {r['text_encoder_s']:.2f} / {r['unet_s']:.2f} / "
                f"{r['vae_decoder_s']:.2f} | {out_ms:.1f} ms ({pct:.3f}%) "
                f"| {s(r.get('load_s'))} | {gb(r['create_peak_rss'])} / {gb(r['generate_peak_rss'])} "
                f"| {', '.join(f'{n} {gb(v)}' for n, v in stages.items())} |")
        by = defaultdict(list)
        for r in rs:
            by[kind(r)].append(r)

        def med(k, f):
            v = [f(r) for r in by.get(k, []) if f(r) is not None]
            return statistics.median(v) if v else None

        out += ["", "Medians over the rounds:", "",
                "| system | create s | per image s | unet s | vae s | outside ORT | peak RSS GB |",
                "|---|---|---|---|---|---|---|"]
        for k in NAMES:
            if k in by:
                out.append(
                    f"| {NAMES[k]} | {s(med(k, lambda r: r['create_s']))} "
                    f"| {s(med(k, lambda r: r['generate_s']))} | {s(med(k, lambda r: r['unet_s']))} "
                    f"| {s(med(k, lambda r: r['vae_decoder_s']))} "
                    f"| {100 * med(k, lambda r: r['outside_s'] / r['generate_s']):.3f}% "
                    f"| {gb(med(k, lambda r: r['peak_rss']))} |")
        # Per round, sdrt against the bare floor (the same round: the same machine state).
        rounds = sorted({r["label"] for r in rs})
        ratio = []
        for lab in rounds:
            a = [r for r in by.get("sdrt", []) if r["label"] == lab]
            b = [r for r in by.get("bare", []) if r["label"] == lab]
            if a and b:
                ratio.append((lab, a[0], b[0]))
        if ratio:
            out += ["", "sdrt / bare floor, per round (1.00 = the same):", "",
                    "| round | text encoder | unet | vae decoder | peak RSS |", "|---|---|---|---|---|"]
            for lab, a, b in ratio:
                out.append(
                    f"| {lab} | {a['text_encoder_s'] / b['text_encoder_s']:.2f} "
                    f"| {a['unet_s'] / b['unet_s']:.2f} | {a['vae_decoder_s'] / b['vae_decoder_s']:.2f} "
                    f"| {a['peak_rss'] / b['peak_rss']:.2f} |")
        out.append("")
    if options:
        out += ["### Session settings, UNet alone (graphs from sdrt's cache, optimizer off)", "",
                "| run | settings | create s | first call s | unet s | peak RSS GB |",
                "|---|---|---|---|---|---|"]
        for r in options:
            out.append(f"| {r['label']} | {r['options']} | {s(r['create_s'])} "
                       f"| {s(r.get('first_call_s'))} | {r['unet_s']:.2f} | {gb(r['peak_rss'])} |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
