"""Markdown of the measured tables: RErr mean +- 95% interval over chips, in percent, per rate.

Cells not computed yet print as ``pending``, and a table with any pending
cell is marked partial, so a table copied mid-run cannot pass for a finished one.
"""

__all__ = ["render_table", "render_model_table", "TOLERATED_RERR"]

# A rate is "tolerated" by a row while its mean RErr stays at or below this.
TOLERATED_RERR = 0.10
PENDING = "pending"


def _percent(value):
    return f"{100 * value:.2f}"


def _tolerated_rate(cells):
    """Highest rate up to which every computed cell keeps mean RErr <= TOLERATED_RERR."""
    tolerated = None
    for rate, cell in cells:
        if cell is None:
            return None
        if cell.rerr_mean > TOLERATED_RERR:
            break
        tolerated = rate
    return tolerated


def render_table(table, rates, results):
    """A markdown table of ``table`` with one column per rate.

    Parameters
    ----------
    table : plan.Table
    rates : sequence of float
    results : mapping
        ``(row.key, fault.label, rate) -> CellResult`` of the computed cells.

    Returns
    -------
    str
    """
    header = (["model", "faults", "chips", "clean Err %"] + [f"RErr % @ {100 * r:g}%" for r in rates]
              + [f"max rate with RErr <= {100 * TOLERATED_RERR:g}%"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    pending = 0
    for row in table.rows:
        for fault in table.faults:
            cells = [(rate, results.get((row.key, fault.label, rate))) for rate in rates]
            pending += sum(cell is None for _, cell in cells)
            done = [cell for _, cell in cells if cell is not None]
            clean = _percent(done[0].clean_error) if done else PENDING
            chips = f"{done[0].chips[0]}..{done[0].chips[-1]}" if done else PENDING
            values = [PENDING if cell is None else f"{_percent(cell.rerr_mean)} ± {_percent(cell.rerr_ci95)}"
                      for _, cell in cells]
            tolerated = _tolerated_rate(cells)
            if any(cell is None for _, cell in cells):
                tolerated_text = PENDING
            else:
                tolerated_text = "none" if tolerated is None else f"{100 * tolerated:g}%"
            lines.append("| " + " | ".join([row.label, fault.label, chips, clean, *values, tolerated_text]) + " |")
    title = f"**{table.title}**" + (f" (PARTIAL: {pending} cells pending)" if pending else "")
    parts = [title, ""]
    if table.note:
        parts += [table.note, ""]
    return "\n".join(parts + lines) + "\n"


def render_model_table(title, rows, names, measures):
    """A markdown table of per-model measures (activation sparsity, sharpness, ...).

    Parameters
    ----------
    title : str
    rows : sequence of plan.Row
    names : sequence of str
        The measures, one column each.
    measures : mapping
        ``row.model -> dict`` of measure name to float (missing: pending).

    Returns
    -------
    str
    """
    header = ["model", *names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        values = measures.get(row.model, {})
        lines.append("| " + " | ".join([row.label] + [f"{values[n]:.4g}" if n in values else PENDING
                                                      for n in names]) + " |")
    return "\n".join([f"**{title}**", ""] + lines) + "\n"
