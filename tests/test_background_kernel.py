"""Background grids in a real IPython kernel (jupyter_client), against the emulator on loopback:
the interrupt Jupyter sends (SIGINT) stops the cell it was aimed at and not the grid; a kernel
that shuts down mid-grid leaves its runs to ``nb2.recover()``: nothing lost, nothing paid twice."""

from __future__ import annotations

import os
import time

import pytest

import nb2
from nb2.emulator import Emulator

from .conftest import TOKEN

SETUP = """\
import nb2
b = nb2.ReplicateBackend(api_token={token!r}, base_url={url!r}, wait=2, poll_interval=0.05)
s = nb2.Session(backend=b, store="runs")
g = s.compare(prompt=[f"a windmill at dusk, take {{i}}" for i in range({cells})])
h = g.run(background=True, max_concurrency={wide})
print("returned", h.done)
"""


@pytest.fixture
def kernel(tmp_path):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    km.start_kernel(cwd=str(tmp_path), env={**env, "NB2_PROGRESS": "0"})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def _run(kc, code: str, timeout: float = 120) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    text: list[str] = []

    def hook(msg) -> None:  # type: ignore[no-untyped-def]
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"], "".join(text)


def _until(test, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.05)


def test_a_sigint_to_another_cell_leaves_the_background_grid_running(kernel):
    km, kc = kernel
    with Emulator(latency=1.0) as emu:
        reply, out = _run(kc, SETUP.format(token=TOKEN, url=emu.base_url, cells=16, wide=4))
        assert reply["status"] == "ok" and out.split() == ["returned", "False"]
        reply, out = _run(kc, "print(h.done, len(g.cells))")  # the kernel is free meanwhile
        assert out.split() == ["False", "16"]
        sleeper = kc.execute("import time\ntime.sleep(60)")
        _until(lambda: len(emu.created) >= 4)
        time.sleep(0.3)  # the sleeping cell is running now
        km.interrupt_kernel()  # what Jupyter's Stop sends: SIGINT to the kernel process
        msg = kc.get_shell_msg(timeout=30)
        assert msg["parent_header"]["msg_id"] == sleeper
        assert (msg["content"]["status"], msg["content"]["ename"]) == ("error", "KeyboardInterrupt")
        reply, out = _run(kc, "h.wait(120)\nprint(h.state, g.counts())")
        assert reply["status"] == "ok", reply
        assert out.strip() == "done {'succeeded': 16}"
        assert len(emu.created) == 16 and emu.canceled == []


# killed with 6 in flight; asked to shut down with predictions short enough that the kernel
# exits before jupyter_client's 5 s would kill it (its pool finishes what is in flight)
@pytest.mark.parametrize(
    ("now", "latency"), [(True, 6.0), (False, 2.0)], ids=["killed", "shut-down"]
)
def test_a_kernel_that_ends_mid_grid_leaves_its_runs_to_recover(kernel, tmp_path, now, latency):
    km, kc = kernel
    with Emulator(latency=latency) as emu:
        reply, _ = _run(kc, SETUP.format(token=TOKEN, url=emu.base_url, cells=12, wide=6))
        assert reply["status"] == "ok"
        _until(lambda: len(emu.created) == 6)
        time.sleep(0.5)  # each id is journaled before any waiting
        t0 = time.monotonic()
        km.shutdown_kernel(now=now)  # killed at once, or asked to shut down (then killed)
        took = time.monotonic() - t0
        assert not km.is_alive()
        made = list(emu.created)
        backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emu.base_url, wait=2)
        report = nb2.recover(tmp_path / "runs", backend=backend, running="wait", timeout=30)
        store = nb2.Session(backend=backend, store=tmp_path / "runs").store
        stored = {r.get("prediction_id") for r in store.records() if r["status"] == "succeeded"}
        # every prediction the kernel made is on disk now, collected here or stored by it
        assert set(made) <= stored, (report, made, stored)
        assert {line["outcome"] for line in report} <= {"collected and stored"}
        if now:  # killed with 6 in flight: recover collected each
            assert len(report) == 6, report
        else:  # it exited by itself, its pool having stored what was in flight
            assert took < 5 and report == [], (took, report)
        assert nb2.recover(tmp_path / "runs", backend=backend) == []  # settled
        assert emu.created == made  # recover made nothing, nothing was paid twice
