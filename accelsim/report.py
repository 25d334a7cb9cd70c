"""``report.html``: one self-contained page per sweep (figures inlined, tables, spec, versions, warnings).

The page needs no network and no other file: figures are PNGs inlined as
base64 data URIs, styles are inline, there is no script.
"""

import base64
import html
import io
import json
from pathlib import Path

from accelsim.plot import (
    _read_summary,
    accuracy_voltage_figure,
    ber_voltage_figure,
    energy_accuracy_figure,
    error_ber_figure,
    sweep_context,
)

__all__ = ["write_report", "REPORT_NAME"]

REPORT_NAME = "report.html"
_FIGURES = (("energy_accuracy", "Accuracy vs energy", energy_accuracy_figure),
            ("accuracy_voltage", "Accuracy and robust error vs voltage", accuracy_voltage_figure),
            ("error_ber", "Robust error vs flipped-bit rate", error_ber_figure),
            ("ber_voltage", "Faulty cells and flipped bits vs voltage", ber_voltage_figure))
_SUMMARY_SHOWN = ("model", "vdd_v", "chips", "profile_ber", "model_ber", "accuracy", "accuracy_ci95_low",
                  "accuracy_ci95_high", "robust_error", "energy_j", "weight_mem_energy_j", "energy_rel_vmin",
                  "pareto")
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
.warning{background:#fff4e5;border-left:4px solid #f0a020;padding:4px 8px;margin:4px 0}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:.8em}
"""


def _png_data_uri(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(table_id, header, rows, row_attrs=None):
    e = html.escape
    lines = [f'<table id="{table_id}"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in header)
             + "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        attrs = "".join(f' data-{k}="{e(str(v))}"' for k, v in (row_attrs[i] if row_attrs else {}).items())
        lines.append(f"<tr{attrs}>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.4g}"


def write_report(directory, tolerance_pp=1.0, energy_ref=None, warnings=None):
    """Write ``directory/report.html`` for the sweep in ``directory``.

    Parameters
    ----------
    directory : str or Path
        A folder written by a sweep (summary.csv, sweep.csv, sweep.json).
    tolerance_pp : float
        Accuracy tolerance of the operating points, in points.
    energy_ref : str, optional
        The model whose nominal energy is 100% (default: the first model).
    warnings : list of str, optional
        Warnings to list (default: :func:`accelsim.sweep.diagnostics.sweep_warnings`).

    Returns
    -------
    Path
    """
    from accelsim.sweep.diagnostics import sweep_warnings

    directory = Path(directory)
    summary = _read_summary(directory)
    context = sweep_context(directory, summary, tolerance_pp, energy_ref)
    if warnings is None:
        warnings = sweep_warnings(directory, tolerance_pp, energy_ref)
    record = json.loads((directory / "sweep.json").read_text()) if (directory / "sweep.json").exists() else {}
    points = context.operating_points(summary)
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>accelsim sweep: {e(context.where)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>accelsim sweep: {e(context.where)}</h1>",
             f"<p>Folder <code>{e(str(directory))}</code>; {e(str(record.get('n_images', '?')))} test images; "
             f"accuracy reference {e(context.models[0])} (clean, quantized); energies relative to "
             f"{e(context.energy_ref)} at nominal voltage; tolerance {tolerance_pp:g} pp. Intervals: 95% Student t "
             "over chips, clipped to [0, 100].</p>", '<h2 id="warnings">Warnings</h2>']
    parts += [f'<p class="warning">{e(w)}</p>' for w in warnings] or ["<p>None.</p>"]
    parts.append('<h2>Operating points</h2>')
    rows, attrs = [], []
    for model in context.models:
        p = points[model]
        if p.vdd_v is None:
            rows.append([model, "none within tolerance", f"{-p.energy_saving * 100:+.1f}%", "",
                         f"{p.accuracy * 100:.2f}%", f"{p.accuracy_change_pp:+.2f}"])
        else:
            rows.append([model, f"{p.vdd_v:g}", f"{-p.energy_saving * 100:+.1f}%",
                         f"{-p.weight_mem_saving_vs_vmin * 100:+.1f}%", f"{p.accuracy * 100:.2f}%",
                         f"{p.accuracy_change_pp:+.2f}"])
        attrs.append({"model": model, "vdd": "" if p.vdd_v is None else repr(p.vdd_v), "accuracy": repr(p.accuracy)})
    parts.append(_table("operating-points", ["model", "voltage (V)", f"energy vs {context.energy_ref} nominal",
                                             "weight SRAM vs Vmin", "accuracy", "change (pp)"], rows, attrs))
    parts.append("<h2>Figures</h2>")
    for name, caption, draw in _FIGURES:
        parts.append(f'<figure id="fig-{name}"><img alt="{e(caption)}" src="{_png_data_uri(draw(summary, context))}">'
                     f"<figcaption>{e(caption)} ({name})</figcaption></figure>")
    parts.append("<h2>Summary (summary.csv)</h2>")
    parts.append(_table("summary", _SUMMARY_SHOWN, [[_number(s[c]) if c != "model" else s[c]
                                                     for c in _SUMMARY_SHOWN] for s in summary]))
    parts.append("<h2>Spec (sweep.json)</h2>")
    parts.append(f"<pre>{e(json.dumps(record.get('spec', {}), indent=2, sort_keys=True))}</pre>")
    parts.append("<h2>Versions and fingerprints</h2>")
    provenance = {k: record.get(k) for k in ("versions", "fingerprints", "seeds", "executor", "start_time",
                                             "end_time")}
    parts.append(f"<pre>{e(json.dumps(provenance, indent=2, sort_keys=True))}</pre>")
    parts.append("</body></html>")
    path = directory / REPORT_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
