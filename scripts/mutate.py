"""Mutation run: for each single-token change of a core module, does one of its tests fail?

    python scripts/mutate.py --list                    # the rooms, their modules and tests
    python scripts/mutate.py store                     # every mutant of the store room
    python scripts/mutate.py backend --sample 60       # a seeded random sample of them
    python scripts/mutate.py grid --module src/nb2/grids/cells.py --jobs 2

Rooms (modules and the tests that pin them) are in pyproject.toml, [tool.nb2.mutate.rooms].
Each mutant (scripts/mutants.py) runs the room's tests in a child forked from a process that
has imported the libraries once, with the mutated copy of src/ first on the path, stopping at
the first failure. Killed: a test failed, or the child ran past 3x the clean run + 10 s.
Survived: every test passed; those are listed with their line, so each is either pinned by a
new test or explained. The figures go to benchmarks/results/mutate-ROOM.json as well.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    sys.exit("scripts/mutate.py needs Python 3.11 or later (tomllib reads the rooms)")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from mutants import Site, mutate, sites  # noqa: E402

# imported once here so each forked child starts with them (never nb2 itself: the child
# imports the mutated copy)
PRELOAD = ["pytest", "PIL.Image", "httpx", "replicate", "IPython", "hypothesis", "nbval"]


@dataclass
class Outcome:
    module: str
    line: int
    what: str
    verdict: str  # killed, timeout, survived
    seconds: float
    source: str


def rooms() -> dict[str, dict]:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return conf["tool"]["nb2"]["mutate"]["rooms"]


def child(slot: Path, module: str, text: str | None, tests: list[str], log: Path) -> None:
    """In the forked child: write the mutant, run the tests, exit with pytest's code."""
    os.setpgid(0, 0)
    if text is not None:
        (slot / module).write_text(text)
    src = str(slot / "src")
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = src  # for the subprocesses some tests start
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import pytest

    args = ["-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *tests]
    code = pytest.main(args)
    sys.stdout.flush()
    os._exit(int(code))


def spawn(slot: Path, module: str, text: str | None, tests: list[str], log: Path) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            child(slot, module, text, tests, log)
        finally:
            os._exit(99)
    return pid


def reap(pid: int, deadline: float) -> str:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.05)


def make_slot(base: Path, n: int) -> Path:
    slot = base / f"slot{n}"
    shutil.copytree(ROOT / "src", slot / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return slot


def run_room(name: str, room: dict, args: argparse.Namespace) -> list[Outcome]:
    modules = [args.module] if args.module else room["modules"]
    tests = [str(ROOT / t) for t in room["tests"]]
    todo: list[tuple[str, Site]] = []
    for module in modules:
        todo += [(module, s) for s in sites((ROOT / module).read_text())]
    if args.sample and args.sample < len(todo):
        todo = sorted(random.Random(args.seed).sample(todo, args.sample), key=lambda t: t[1].index)
    if not (ROOT / "src/nb2/static/panel.js").exists():  # a fresh clone has no bundle yet
        sys.exit("build the front end first (npm install && npm run build): the widgets load it")
    base = Path(tempfile.mkdtemp(prefix=f"nb2-mutate-{name}-"))
    slots = [make_slot(base, n) for n in range(args.jobs)]
    t0 = time.monotonic()
    pid = spawn(slots[0], modules[0], None, tests, base / "clean.log")
    if reap(pid, time.monotonic() + 900) != "survived":
        sys.exit(f"the clean run of {name}'s tests fails: see {base / 'clean.log'}")
    limit = 3 * (time.monotonic() - t0) + 10
    print(f"{name}: {len(todo)} mutants, clean run {time.monotonic() - t0:.1f} s", flush=True)
    outcomes: list[Outcome] = []
    running: dict[int, tuple[Path, str, Site, float]] = {}
    free = list(slots)
    queue = list(todo)
    numbers = itertools.count()
    while queue or running:
        while queue and free:
            module, site = queue.pop(0)
            slot = free.pop()
            text = mutate((ROOT / module).read_text(), site)
            log = base / f"m{next(numbers)}.log"
            pid = spawn(slot, module, text, tests, log)
            running[pid] = (slot, module, site, time.monotonic())
        for pid in list(running):
            slot, module, site, started = running[pid]
            done, status = os.waitpid(pid, os.WNOHANG)
            late = time.monotonic() - started > limit
            if not done and not late:
                continue
            if done:
                verdict = "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
            else:
                verdict = reap(pid, 0)
            del running[pid]
            shutil.copyfile(ROOT / module, slot / module)  # the original back
            free.append(slot)
            line = (ROOT / module).read_text().splitlines()[site.line - 1].strip()
            outcomes.append(
                Outcome(module, site.line, site.what, verdict, time.monotonic() - started, line)
            )
            mark = {"killed": ".", "timeout": "t", "survived": "S"}[verdict]
            print(mark, end="", flush=True)
        time.sleep(0.05)
    print()
    shutil.rmtree(base, ignore_errors=True)
    return outcomes


def table(name: str, outcomes: list[Outcome]) -> None:
    by_module: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_module.setdefault(o.module, []).append(o)
    print(f"\n{'room':<9} {'module':<34} {'mutants':>7} {'killed':>6} {'timeout':>7} "
          f"{'survived':>8} {'score':>6}")  # fmt: skip
    for module, group in [*by_module.items(), ("(all)", outcomes)]:
        killed = sum(o.verdict == "killed" for o in group)
        late = sum(o.verdict == "timeout" for o in group)
        alive = sum(o.verdict == "survived" for o in group)
        score = (killed + late) / len(group) if group else 0.0
        print(f"{name:<9} {module:<34} {len(group):>7} {killed:>6} {late:>7} {alive:>8} "
              f"{score:>6.0%}")  # fmt: skip
    alive = [o for o in outcomes if o.verdict == "survived"]
    if alive:
        print("\nsurvivors:")
        for o in sorted(alive, key=lambda o: (o.module, o.line)):
            print(f"  {Path(o.module).name}:{o.line:<4} {o.what:<26} {o.source[:80]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("room", nargs="?", help="a room from [tool.nb2.mutate.rooms]")
    parser.add_argument("--list", action="store_true", help="list the rooms")
    parser.add_argument("--module", help="only this module of the room (a path under src/)")
    parser.add_argument("--sample", type=int, default=0, help="a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    args = parser.parse_args()
    known = rooms()
    if args.list or not args.room:
        for name, room in known.items():
            count = sum(len(sites((ROOT / m).read_text())) for m in room["modules"])
            print(f"{name:<9} {count:>4} mutants  {' '.join(room['modules'])}")
            print(f"{'':<9}       tests  {' '.join(room['tests'])}")
        return
    if args.room not in known:
        sys.exit(f"room: {args.room!r} is not one of {', '.join(known)}")
    for lib in PRELOAD:
        __import__(lib)
    outcomes = run_room(args.room, known[args.room], args)
    table(args.room, outcomes)
    out = ROOT / "benchmarks" / "results" / f"mutate-{args.room}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))


if __name__ == "__main__":
    main()
