"""What tools/bench_bare.py and tools/bench_reference.py share with examples/bench.rs: the
same flags for the same run, and the process's resident-set readings (Linux /proc)."""

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def status_kb(field):
    """A `/proc/self/status` field (`VmHWM:`, `VmRSS:`) in bytes; 0 when unreadable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak():
    """Resets the peak that `VmHWM:` reports to the current resident set."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def parser():
    """The flags every benchmark takes, with examples/bench.rs's defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "tiny-sd2"))
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--json")
    ap.add_argument("--label", default="")
    return ap
