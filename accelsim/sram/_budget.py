"""Refuse, before any work, a placement that would exceed the machine's memory."""

import math
import os

__all__ = ["available_memory_bytes", "placement_bytes", "check_placement_budget"]

# Bytes per faulty cell while placing: the drawn table (index, fail voltage,
# kind, error probability: 25), the erring draw and sort order (16), the
# placement's arrays (stream bit, word, bit, voltage, kind, errs: 23), then
# the cells' arrays in word order that sparse reads scan (12), with slack.
# Measured: VGG-11 on the 14 nm profile at 0.56 V, 19.9 M faulty cells, peak
# 2.09 GiB over the torch model with the words and a run included.
BYTES_PER_FAULTY_CELL = 80


def available_memory_bytes():
    """Memory the machine can still give (``MemAvailable``, or less under a cgroup limit), or None where unknown."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    limit = _cgroup_room()
    return available if limit is None else min(available, limit)


def _cgroup_room():
    """Bytes left under this process's cgroup (v2) memory limit, or None without one."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            text = f.read().strip()
        if text == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            return max(0, int(text) - int(f.read().strip()))
    except (OSError, ValueError):
        return None


def _size(n_bytes):
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MiB"


def placement_bytes(profile, n_bits, vdd_lowest_v=None):
    """Estimated peak bytes of placing ``n_bits`` in ``profile`` down to ``vdd_lowest_v`` (default: floor)."""
    vdd_v = profile.vdd_floor_v if vdd_lowest_v is None else max(vdd_lowest_v, profile.vdd_floor_v)
    faulty = n_bits * float(profile.ber(vdd_v))
    return int(math.ceil(faulty * BYTES_PER_FAULTY_CELL)), faulty


def check_placement_budget(profile, n_bits, vdd_lowest_v, words_bytes, available=None):
    """Raise ``SimulatedMemoryError`` if the placement would not fit in the available memory."""
    from accelsim.sram.memory import SimulatedMemoryError

    available = available_memory_bytes() if available is None else available
    if available is None or not hasattr(profile, "ber"):  # unknown machine, or a duck-typed profile
        return
    need, faulty = placement_bytes(profile, n_bits, vdd_lowest_v)
    if need + words_bytes > available:
        where = "its floor" if vdd_lowest_v is None else f"{max(vdd_lowest_v, profile.vdd_floor_v):.4g} V"
        raise SimulatedMemoryError(
            f"placing {n_bits:,} stored bits in profile '{profile.name}' down to {where} means about "
            f"{faulty:,.0f} faulty cells, an estimated {_size(need + words_bytes)}, but only "
            f"{_size(available)} is available; read at higher voltages (the lowest one asked "
            "for decides), plan them with SimulatedMemory.plan_voltages, or store fewer bits")
