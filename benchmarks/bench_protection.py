"""Cost of a SECDED-protected read against the unprotected sparse read, in one run.

Run ``python benchmarks/bench_protection.py``. An 8 Mbit model (2^20 8-bit
words) is stored in a generated chip (``gaussian_profile()``), once
unprotected and once under ``secded:64`` (9 Mbit stored with the check
bits), and read at the voltage where the chip's BER is 1e-3. The
unprotected read is ``SimulatedMemory.read_sparse`` (what the engine uses);
the protected one is ``ProtectedMemory.read``: the same sparse prefix of
faulty cells, then decoding only the codewords that hold a wrong bit.
Repeats are interleaved; min/median/max of each and the ratio of medians
are printed. Target: ratio <= 2.
"""

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import timed  # noqa: E402

STORED_BITS = 8 * 2**20
BER = 1e-3
REPEATS = 21
TARGET_RATIO = 2.0


def main():
    from accelsim.sram import SimulatedMemory, gaussian_profile
    from accelsim.sram.protection import ProtectedMemory

    profile = gaussian_profile()
    words = np.random.default_rng(0).integers(0, 256, STORED_BITS // 8).astype(np.uint8)
    plain = SimulatedMemory(profile, words, 8)
    protected = ProtectedMemory(profile, words, 8, "secded:64")
    vdd = float(profile.voltage_for_ber(BER))
    plain.read_sparse(vdd, 0)  # placement, compilation
    read = protected.read(vdd, 0)
    plain_s, protected_s = [], []
    for _ in range(REPEATS):
        plain_s.append(timed(lambda: plain.read_sparse(vdd, 0)))
        protected_s.append(timed(lambda: protected.read(vdd, 0)))

    def describe(times):
        return (f"min {min(times) * 1e3:.3f} ms, median {statistics.median(times) * 1e3:.3f} ms, "
                f"max {max(times) * 1e3:.3f} ms")

    print(f"8 Mbit model at BER {BER:g} ({read.faulty_cells:,} faulty cells of {protected.stored_bits:,} "
          f"stored with secded:64; corrected {read.corrected_words:,}, detected {read.detected_words:,}, "
          f"miscorrected {read.miscorrected_words:,} codewords)")
    print(f"  unprotected sparse read: {describe(plain_s)}")
    print(f"  secded:64 read + decode: {describe(protected_s)}")
    ratio = statistics.median(protected_s) / statistics.median(plain_s)
    print(f"  ratio of medians: {ratio:.2f}x (target <= {TARGET_RATIO:g}x): "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}")


if __name__ == "__main__":
    main()
