"""Speed and memory of the simulated SRAM, against baselines measured in the same run.

Run ``python benchmarks/bench_sram.py [--runs 5] [--reads-only]``. It measures:

1. Reading 8 Mbit of stored weights at the voltages where a generated chip's
   BER is 1e-3 and 1e-5: ``SimulatedMemory.read`` (sparse: work grows with the
   faulty cells) against a per-bit fault injector (a random draw for every
   stored bit, then the mask applied), as fault-injection frameworks do.
   Repeats are interleaved so that load on the machine hits both alike (and
   each read finds caches the baseline has flushed, as a read after a
   network's inference would); the median is reported. Target: >= 200x at
   BER 1e-3, more at 1e-5. Back-to-back reads (warm caches) are shown too.
2. Import of the measured FPGA block-RAM dumps (``../shared/data``). Target < 10 s.
3. Peak memory of a process that draws a 64 Mbit generated chip (the 14 nm-like
   default, the worst case: a third of its cells fail above the floor),
   places a 64 Mbit stream in it and reads it at the floor. Target < 2 GB.
"""

import importlib
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

STORED_BITS = 8 * 2**20
BERS = (1e-3, 1e-5)
REPEATS = 21
TARGET_RATIO_AT_1E3 = 200.0
LARGE_CHIP_BITS = 64 * 2**20
TARGET_PEAK_BYTES = 2 * 2**30
TARGET_IMPORT_S = 10.0
FPGA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fpga-bram-kc705b"


def per_bit_read(words, ber, rng):
    """The baseline: one uniform draw per stored bit, flip where it falls below the BER."""
    mask = rng.random(words.size * 8) < ber
    return words ^ np.packbits(mask, bitorder="little")


def median_seconds(samples):
    return statistics.median(samples)


def bench_reads():
    from accelsim.sram import SimulatedMemory, uniform_profile

    profile = uniform_profile(1e-2)
    words = np.random.default_rng(0).integers(0, 256, STORED_BITS // 8, dtype=np.uint8)
    memory = SimulatedMemory(profile, words, 8)
    voltages = {ber: profile.voltage_for_ber(ber) for ber in BERS}
    start = time.perf_counter()
    memory.placement(0)
    placement_s = time.perf_counter() - start
    for vdd_v in voltages.values():
        memory.read(vdd_v)  # compiles the kernels, outside the timed runs
        memory.read_sparse(vdd_v)

    rng = np.random.default_rng(1)
    sparse = {ber: [] for ber in BERS}
    delta = {ber: [] for ber in BERS}
    dense = {ber: [] for ber in BERS}
    faulty = {}
    for _ in range(REPEATS):
        for ber, vdd_v in voltages.items():
            start = time.perf_counter()
            # The result is consumed, not kept: the memory's read buffer then
            # moves to the next read's faults in place (a kept result would
            # make the next read continue on a copy, as the old read did).
            faulty[ber] = memory.read(vdd_v).faulty_cells
            sparse[ber].append(time.perf_counter() - start)
            start = time.perf_counter()
            per_bit_read(words, ber, rng)
            dense[ber].append(time.perf_counter() - start)
            start = time.perf_counter()
            memory.read_sparse(vdd_v)
            delta[ber].append(time.perf_counter() - start)
    # Back to back, the words and the placement stay in cache, as when a
    # sweep re-reads at one voltage; shown for context, not for the target.
    warm = {ber: [] for ber in BERS}
    for ber, vdd_v in voltages.items():
        for _ in range(REPEATS):
            start = time.perf_counter()
            memory.read(vdd_v)
            warm[ber].append(time.perf_counter() - start)
    rows = [(ber, voltages[ber], faulty[ber], median_seconds(sparse[ber]), median_seconds(delta[ber]),
             median_seconds(dense[ber]), median_seconds(warm[ber])) for ber in BERS]
    return rows, placement_s


def bench_fpga_import():
    try:
        importers = importlib.import_module("accelsim.sram.importers")
        import_fpga_hex = importers.import_fpga_hex
    except (ImportError, AttributeError):
        return None, "accelsim.sram.importers.import_fpga_hex not available"
    paths = sorted(FPGA_DIR.glob("KC705B-*.bin"))
    if not paths:
        return None, f"FPGA data not found in {FPGA_DIR}"
    start = time.perf_counter()
    profile, _ = import_fpga_hex(paths)
    return time.perf_counter() - start, f"{len(paths)} dumps, {profile.n_cells:,} cells"


def _load_large_chip(results):
    from accelsim.sram import SimulatedMemory, gaussian_profile

    # The 14 nm-like default: a third of the cells fail above its 0.5 V floor,
    # so the placement holds about 22 million cells.
    profile = gaussian_profile()
    memory = SimulatedMemory(profile, np.zeros(LARGE_CHIP_BITS // 8, np.uint8), 8)
    start = time.perf_counter()
    result = memory.read(profile.vdd_floor_v)
    results.put((result.faulty_cells, time.perf_counter() - start))


def bench_large_chip():
    """Faulty cells at the floor, seconds to draw, place and read, peak bytes of the process."""
    # A fresh process, so that the peak belongs to this load alone.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_load_large_chip, args=(results,))
    process.start()
    faulty, seconds = results.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"loading the 64 Mbit chip failed (exit code {process.exitcode})")
    # ru_maxrss is in kilobytes on Linux.
    return faulty, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def verdict(passed):
    return "PASS" if passed else "FAIL"


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat the read measurement (each its own run)")
    parser.add_argument("--reads-only", action="store_true", help="skip the FPGA import and the 64 Mbit chip")
    args = parser.parse_args(argv)
    speedups = []
    for run in range(args.runs):
        if args.runs > 1:
            print(f"--- run {run + 1} of {args.runs}")
        speedups.append(_report_reads())
    if args.runs > 1:
        print(f"read speed-up at BER 1e-3 in each of {args.runs} runs: "
              f"{', '.join(f'{s:.0f}x' for s in speedups)}; target >= {TARGET_RATIO_AT_1E3:.0f}x in every run: "
              f"{verdict(min(speedups) >= TARGET_RATIO_AT_1E3)}")
    if args.reads_only:
        return 0
    _report_import_and_large_chip()
    return 0


def _report_reads():
    rows, placement_s = bench_reads()
    print(f"Reading {STORED_BITS / 2**20:.0f} Mbit from a uniform generated chip "
          f"(median of {REPEATS} interleaved repeats)")
    print("read: full copy of the words with faults applied; read_sparse: only the words the "
          "faulty cells touch (what the engine uses)")
    print(f"{'BER':>7} {'vdd_v':>8} {'faulty':>7} {'read':>10} {'read_sparse':>12} {'per-bit mask':>13} "
          f"{'read x':>7} {'sparse x':>9} {'back-to-back read':>18}")
    ratios, full_ratios = {}, {}
    for ber, vdd_v, faulty, sparse_s, delta_s, dense_s, warm_s in rows:
        full_ratios[ber] = dense_s / sparse_s
        ratios[ber] = dense_s / delta_s
        print(f"{ber:7.0e} {vdd_v:8.4f} {faulty:7d} {sparse_s * 1e3:7.3f} ms {delta_s * 1e3:9.3f} ms "
              f"{dense_s * 1e3:10.3f} ms {full_ratios[ber]:6.0f}x {ratios[ber]:8.0f}x {warm_s * 1e3:15.3f} ms")
    print(f"(placement, once per chip: {placement_s * 1e3:.1f} ms)")
    print(f"speed-up of read at BER 1e-3: {full_ratios[1e-3]:.0f}x (read_sparse {ratios[1e-3]:.0f}x), "
          f"target >= {TARGET_RATIO_AT_1E3:.0f}x: {verdict(full_ratios[1e-3] >= TARGET_RATIO_AT_1E3)}")
    # read keeps a buffer at the previous read's faults: alternating with the
    # 1e-3 read, each 1e-5 read undoes its ~8,000 cells, so only read_sparse
    # (fresh each time) still shows that fewer faulty cells cost less.
    print(f"speed-up of read_sparse at BER 1e-5: {ratios[1e-5]:.0f}x (read {full_ratios[1e-5]:.0f}x, "
          f"undoing the alternating 1e-3 read), target > {ratios[1e-3]:.0f}x (read_sparse at 1e-3): "
          f"{verdict(ratios[1e-5] > ratios[1e-3])}")
    return full_ratios[1e-3]


def _report_import_and_large_chip():
    import_s, detail = bench_fpga_import()
    if import_s is None:
        print(f"FPGA import: not available ({detail})")
    else:
        print(f"FPGA import: {import_s:.2f} s ({detail}), target < {TARGET_IMPORT_S:.0f} s: "
              f"{verdict(import_s < TARGET_IMPORT_S)}")

    faulty, seconds, peak = bench_large_chip()
    print(f"64 Mbit generated chip (gaussian_profile(), {faulty:,} cells faulty at the floor): "
          f"drawn, placed and read in {seconds:.1f} s; peak memory of the process "
          f"{peak / 2**20:.0f} MB, target < {TARGET_PEAK_BYTES / 2**30:.0f} GB: "
          f"{verdict(peak < TARGET_PEAK_BYTES)}")


if __name__ == "__main__":
    sys.exit(main())
