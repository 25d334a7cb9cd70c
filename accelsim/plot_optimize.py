"""The optimizer's figure: candidates, their Pareto front and the uniform-voltage curve."""

import json
from pathlib import Path

__all__ = ["draw_front"]


def draw_front(directory):
    """Write ``front.png`` in an optimizer results folder; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from accelsim.sweep.results import read_csv

    directory = Path(directory)
    candidates = read_csv(directory / "candidates.csv")
    pareto = read_csv(directory / "pareto.csv")
    uniform = read_csv(directory / "uniform.csv")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([float(c["weight_mem_energy_j"]) * 1e9 for c in candidates],
               [float(c["accuracy"]) * 100 for c in candidates], s=8, color="0.7",
               label="candidates (calibration chips)")
    front = sorted(pareto, key=lambda c: float(c["weight_mem_energy_j"]))
    ax.plot([float(c["weight_mem_energy_j"]) * 1e9 for c in front],
            [float(c["accuracy"]) * 100 for c in front], "o-", color="C0", label="Pareto front (banks)")
    for i, protection in enumerate(sorted({u["protection"] for u in uniform})):
        rows = sorted((u for u in uniform if u["protection"] == protection),
                      key=lambda u: float(u["weight_mem_energy_j"]))
        ax.plot([float(u["weight_mem_energy_j"]) * 1e9 for u in rows],
                [float(u["accuracy"]) * 100 for u in rows], "s--", color=f"C{i + 1}",
                label=f"uniform voltage, {protection} (held-out chips)")
    optimum_file = directory / "optimum.json"
    if optimum_file.exists():
        optimum = json.loads(optimum_file.read_text())
        ax.plot([optimum["weight_mem_energy_j"] * 1e9], [optimum["accuracy"] * 100], "*", color="C3",
                markersize=14, label="optimum (held-out chips)")
        reference = optimum["reference_accuracy"] * 100
        ax.axhline(reference - optimum["tolerance_pp"], color="0.5", lw=0.8, ls=":",
                   label=f"tolerance ({optimum['tolerance_pp']:g} point)")
        ax.set_ylim(max(0.0, reference - 10 * max(optimum["tolerance_pp"], 0.5)), reference + 1)
    ax.set_xlabel("weight SRAM energy per inference (nJ)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = directory / "front.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
