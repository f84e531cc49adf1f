"""Threads: cancel from another thread, two Python threads generating at the same time
(ctypes releases the GIL for the whole C call: their steps interleave), one pipeline shared
by threads (sdrt serializes the calls), close while another thread generates."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import TINY

import sdrt

LONG = dict(width=256, height=256, steps=200, seed=11, scheduler="euler")


def test_cancel_from_another_thread(tiny):
    started = threading.Event()
    result = {}

    def work():
        try:
            tiny.generate("x", on_step=lambda info: started.set(), **LONG)
        except BaseException as e:  # noqa: BLE001
            result["error"] = e
        result["end"] = time.monotonic()

    t = threading.Thread(target=work)
    t.start()
    assert started.wait(60), "no step within 60 s"
    cancelled_at = time.monotonic()
    tiny.cancel()
    t.join(60)
    assert not t.is_alive()
    assert isinstance(result.get("error"), sdrt.CancelledError), result
    assert result["end"] - cancelled_at < 5.0
    # The pipeline stays usable.
    assert len(tiny.generate("x", steps=2)) == 1


def test_generate_releases_the_gil(tiny):
    """A pure-Python thread keeps running during a generate call without callbacks: ctypes
    released the GIL for the whole C call (with the GIL held it would get no tick in)."""
    ticks, stop = [], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        time.sleep(0.01)
        t0 = time.monotonic()
        tiny.generate("x", width=256, height=256, steps=20, scheduler="euler")
        t1 = time.monotonic()
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if t0 < x < t1]
    assert len(during) >= 20, f"{len(during)} ticks in {t1 - t0:.2f} s of generate"


def test_two_threads_generate_at_the_same_time():
    args = dict(width=128, height=128, steps=30, scheduler="euler")
    with sdrt.Pipeline(TINY, provider="cpu", intra_op_threads=1) as a, \
            sdrt.Pipeline(TINY, provider="cpu", intra_op_threads=1) as b:
        alone = {name: p.generate("x", seed=seed, **args)[0]
                 for name, p, seed in (("a", a, 1), ("b", b, 2))}
        stamps = {"a": [], "b": []}
        spans = {}
        images = {}
        barrier = threading.Barrier(2)

        def work(name, pipe, seed):
            barrier.wait()
            t0 = time.monotonic()
            images[name] = pipe.generate(
                "x", seed=seed, on_step=lambda info: stamps[name].append(time.monotonic()),
                **args)[0]
            spans[name] = (t0, time.monotonic())

        threads = [threading.Thread(target=work, args=("a", a, 1)),
                   threading.Thread(target=work, args=("b", b, 2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert images == alone
        sa, sb = stamps["a"], stamps["b"]
        assert len(sa) == len(sb) == 30
        # The two calls' time intervals overlap, and each made steps while the other was
        # between its first and last step.
        (a0, a1), (b0, b1) = spans["a"], spans["b"]
        assert max(a0, b0) < min(a1, b1)
        assert any(sa[0] < s < sa[-1] for s in sb) and any(sb[0] < s < sb[-1] for s in sa)

        # Deterministically: a whole call on b runs from start to end while a call on a is
        # in flight (a's first step callback waits for it). A lock shared by the two
        # pipelines, in sdrt or in the binding, would make this time out.
        b_done = threading.Event()

        def wait_for_b(info):
            if info.step == 1:
                threading.Thread(target=lambda: (b.generate("x", seed=2, **args),
                                                 b_done.set())).start()
                assert b_done.wait(60), "b could not run while a was generating"

        assert a.generate("x", seed=1, on_step=wait_for_b, **args)[0] == alone["a"]


def test_one_pipeline_shared_by_threads_is_serialized(tiny):
    args = dict(width=64, height=64, steps=4, scheduler="euler")
    alone = [tiny.generate("x", seed=s, **args)[0] for s in range(4)]
    got = [None] * 4

    def work(i):
        got[i] = tiny.generate("x", seed=i, **args)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == alone


def test_close_while_another_thread_generates():
    pipe = sdrt.Pipeline(TINY, provider="cpu")
    started = threading.Event()
    result = {}

    def work():
        try:
            pipe.generate("x", on_step=lambda info: started.set(), **LONG)
        except BaseException as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=work)
    t.start()
    assert started.wait(60)
    pipe.close()  # cancels the call, waits for it, frees
    t.join(60)
    assert isinstance(result.get("error"), sdrt.CancelledError)
    assert pipe.closed


def test_close_from_own_callback_is_refused(tiny):
    with sdrt.Pipeline(TINY, provider="cpu") as pipe:
        def close(info):
            pipe.close()

        with pytest.raises(RuntimeError, match="own callbacks"):
            pipe.generate("x", steps=3, on_step=close)
        assert not pipe.closed
        assert len(pipe.generate("x", steps=2)) == 1


def test_generate_on_the_same_pipeline_from_its_callback_is_refused(tiny):
    inner = []

    def reenter(info):
        if info.step == 1:
            try:
                tiny.generate("y", steps=2)
            except sdrt.InvalidArgumentError as e:
                inner.append(e)

    tiny.generate("x", steps=3, scheduler="euler", on_step=reenter)
    assert len(inner) == 1
