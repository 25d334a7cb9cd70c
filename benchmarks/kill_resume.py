"""``kill -9`` a tiny sweep at random moments, then ``--resume``: is every folder resumable?

Not a speed benchmark: an integrity experiment. It first runs the sweep once
to completion (the reference), then for each trial starts the same sweep in
a fresh folder and sends SIGKILL at a random moment, then resumes it. The
moment is drawn so that every phase is hit whatever the machine's load: a
target k is drawn uniformly from 0..POINTS+1, the trial waits until the
folder shows that progress (k = 0: nothing, the kill lands in start-up or
the checks; 1..POINTS: k - 1 journal lines; POINTS+1: every line, so the
final writes), then waits a further uniform 0-1.5 s before the kill.
A trial survives when the resume exits 0 and its ``sweep.csv`` and
``summary.csv`` are byte-identical to the reference's.

    python benchmarks/kill_resume.py --trials 50

Prints one line per trial (the phase the kill hit, judged from what the
folder held) and a summary line with the counts.
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = ["sweep", "--quiet", "--model", "digits-cnn-normal-8b", "--profile", "14nm", "--chips", "2",
        "--voltages", "0.8,0.6,0.56,0.54", "--limit", "60"]
POINTS = 2 * 4


def _command(out):
    return [sys.executable, "-m", "accelsim", *ARGS, "--out", str(out)]


def _env():
    return {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _progress(folder):
    """0 before sweep.json, then 1 + the journal's complete lines."""
    if not (folder / "sweep.json").exists():
        return 0
    journal = folder / "journal.jsonl"
    try:
        return 1 + journal.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 1


def _phase(folder):
    if not (folder / "sweep.json").exists():
        return "before sweep.json"
    journal = folder / "journal.jsonl"
    lines = len(journal.read_bytes().splitlines()) if journal.exists() else 0
    if lines < POINTS:
        return f"journal {lines}/{POINTS}"
    return "final writes" if not (folder / "ber_voltage.png").exists() else "after the end"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="accelsim-kill-"))
    try:
        reference = root / "reference"
        start = time.monotonic()
        subprocess.run(_command(reference), env=_env(), check=True, stdout=subprocess.DEVNULL)
        duration = time.monotonic() - start
        expected = {n: (reference / n).read_bytes() for n in ("sweep.csv", "summary.csv")}
        print(f"reference sweep: {POINTS} points in {duration:.1f} s; {args.trials} trials, kill after "
              f"a random progress target (0..{POINTS + 1}) plus 0-1.5 s")
        survived, killed_mid_run, phases = 0, 0, {}
        for trial in range(args.trials):
            folder = root / f"t{trial}"
            target = rng.randint(0, POINTS + 1)
            delay = rng.uniform(0, 1.5)
            process = subprocess.Popen(_command(folder), env=_env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            t0 = time.monotonic()
            while process.poll() is None and _progress(folder) < target:
                time.sleep(0.005)
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            delay = time.monotonic() - t0
            was_killed = process.returncode == -signal.SIGKILL
            killed_mid_run += was_killed
            phase = _phase(folder) if was_killed else "finished before the kill"
            phases[phase.split(" ")[0]] = phases.get(phase.split(" ")[0], 0) + 1
            resumed = subprocess.run(_command(folder) + ["--resume"], env=_env(), capture_output=True, text=True)
            same = resumed.returncode == 0 and all(
                (folder / n).read_bytes() == data for n, data in expected.items())
            survived += same
            status = "ok" if same else f"FAILED (exit {resumed.returncode}: {resumed.stderr.strip()[-300:]})"
            print(f"trial {trial:2d}: target {target}, kill at {delay:5.2f} s, {phase:24s} -> resume {status}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
        print(f"summary: {survived}/{args.trials} folders resumed to byte-identical results; "
              f"{killed_mid_run} trials were killed mid-run (phases: "
              + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())) + ")")
        return 0 if survived == args.trials else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
