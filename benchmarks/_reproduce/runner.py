"""A reproduction run: its settings, folder, stages, cached work and tables.

Layout of the output folder::

    settings.json                     the settings (a rerun must match them)
    invocations.jsonl                 every command run on the folder, with its start time
    models/<model>.pt, .json          checkpoints and their training records
    cells/<table>/<row>/<fault>/<rate>.json   one table cell, per-chip results
    tables.md                         the rendered tables
"""

import datetime
import json
import os
import platform
import time
from pathlib import Path

import torch

from accelsim import load_dataset, load_profile
from accelsim._errors import UserInputError
from accelsim.data import dataset_info
from accelsim.engine import QuantizedModel
from accelsim.quant import get_scheme

from _reproduce.evaluation import RowEvaluator, load_cell, save_cell
from _reproduce.faults import fault_profile
from _reproduce.plan import build_tables, full_settings, quick_settings
from _reproduce.tables import render_model_table, render_table
from _reproduce.training import MEASURES, Trainer

__all__ = ["STAGES", "ReproduceError", "Run"]

TABLES = ("presets", "methods", "flatenn", "generalisation")
STAGES = ("train", *TABLES, "tables")
DOCS_BEGIN, DOCS_END = "<!-- reproduce:begin -->", "<!-- reproduce:end -->"


class ReproduceError(UserInputError):
    """The run cannot go on as asked; the message names the problem and the fix."""


def _arch_for(dataset):
    return "digits-cnn" if dataset.partition(":")[0] == "digits" else "lenet"


class Run:
    """One output folder of a reproduction, with its settings and tables.

    Create with :meth:`open`.
    """

    def __init__(self, out, settings, command, progress):
        self.out = Path(out)
        self.settings = settings
        self.command = command
        self._progress = progress
        profile = load_profile("14nm")
        self.profile_vdd_v = round(float(profile.voltage_for_ber(settings.profile_rate)), 4)
        self.tables = {table.name: table for table in build_tables(settings, self.profile_vdd_v)}
        self._trainer = Trainer(settings, self.out / "models", progress)
        self._profiles = {}
        self._test = None
        self.started = datetime.datetime.now(datetime.timezone.utc)

    @classmethod
    def open(cls, out, dataset, quick, epochs, command, progress):
        """Open (or create) the run in ``out``; refuse a folder holding other settings.

        Parameters
        ----------
        out : str or Path
        dataset : str
            accelsim dataset spec.
        quick : bool
            The tiny test configuration (``epochs`` is then 1).
        epochs : int
        command : str
            The command line, recorded with the tables.
        progress : callable
            Called with one line of text per finished piece of work.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ReproduceError(f"--epochs {epochs!r}: expected a whole number >= 1")
        dataset_info(dataset)  # a malformed spec fails here, before any work
        arch = _arch_for(dataset)
        settings = quick_settings(dataset, arch) if quick else full_settings(dataset, arch, epochs)
        out = Path(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReproduceError(f"--out {out}: cannot create the folder ({exc.strerror}); "
                                 "choose a writable folder") from None
        saved = out / "settings.json"
        wanted = settings.to_dict()
        if saved.exists():
            previous = json.loads(saved.read_text())
            differing = sorted(k for k in set(previous) | set(wanted)
                               if json.dumps(previous.get(k)) != json.dumps(wanted.get(k)))
            if differing:
                raise ReproduceError(f"--out {out} holds a run with other settings (differs in "
                                     f"{', '.join(differing)}); rerun with its arguments to resume it "
                                     "or choose another --out")
        else:
            saved.write_text(json.dumps(wanted, indent=1) + "\n")
        return cls(out, settings, command, progress)

    # -- work --------------------------------------------------------------------
    def execute(self, stage, docs=None):
        """Run ``stage`` (``all``, ``train``, a table name, or ``tables``: render only).

        Each table trains the models it needs, then evaluates its cells; the
        tables are rewritten after each table (into ``docs`` too, if given),
        so a long run shows its finished tables early.
        """
        if stage == "tables":
            return
        self._log_invocation(stage)
        names = TABLES if stage in ("all", "train") else (stage,)
        for name in names:
            for model in self.tables[name].models:
                self._trainer.checkpoint(model)
            if stage != "train":
                self._evaluate(self.tables[name])
                self.write_tables(docs)

    def _log_invocation(self, stage):
        record = {"command": self.command, "stage": stage, "started": f"{self.started:%Y-%m-%d %H:%M} UTC",
                  "torch_threads": torch.get_num_threads()}
        with open(self.out / "invocations.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")

    def _invocations(self):
        path = self.out / "invocations.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def _test_data(self):
        if self._test is None:
            self._test = load_dataset(self.settings.dataset, split="test", limit=self.settings.test_limit)
        return self._test

    def _profile(self, kind):
        if kind not in self._profiles:
            self._profiles[kind] = fault_profile(kind)
        return self._profiles[kind]

    def _cell_path(self, table, row, fault, rate):
        return self.out / "cells" / table.name / row.key / fault.label / f"{rate:g}.json"

    def _quantized(self, row):
        module = self._trainer.float_module(row.model)
        x, _ = self._test_data()
        scheme = get_scheme(row.scheme, bits=row.bits)
        return QuantizedModel.from_torch(module, scheme, x[:64], meta={"row": row.key})

    def _evaluate(self, table):
        key = self.settings.evaluation_key()
        x, y = self._test_data()
        todo = [(row, fault, rate) for row in table.rows for fault in table.faults for rate in self.settings.rates
                if load_cell(self._cell_path(table, row, fault, rate), key,
                             fault.chips(self.settings.chips)) is None]
        evaluator, evaluated_row = None, None
        for done, (row, fault, rate) in enumerate(todo, 1):
            if row != evaluated_row:  # cells come row by row: one model in memory at a time
                evaluator, evaluated_row = RowEvaluator(self._quantized(row), x, y), row
            start = time.perf_counter()
            chips = fault.chips(self.settings.chips)
            cell = evaluator.cell(self._profile(fault.kind), rate, chips, key)
            save_cell(self._cell_path(table, row, fault, rate), cell)
            self._progress(f"{table.name} [{done}/{len(todo)}] {row.label} / {fault.label} @ {rate:g}: "
                           f"RErr {100 * cell.rerr_mean:.2f} ± {100 * cell.rerr_std:.2f} % "
                           f"({time.perf_counter() - start:.1f} s)")

    # -- output ------------------------------------------------------------------
    def _results(self, table):
        key = self.settings.evaluation_key()
        results = {}
        for row in table.rows:
            for fault in table.faults:
                for rate in self.settings.rates:
                    cell = load_cell(self._cell_path(table, row, fault, rate), key, fault.chips(self.settings.chips))
                    if cell is not None:
                        results[(row.key, fault.label, rate)] = cell
        return results

    def _measures(self, table):
        return {row.model: self._trainer.measures(row.model) for row in table.rows}

    def markdown(self):
        """The header (command, date, machine, settings, training record) and all tables."""
        s = self.settings
        now = datetime.datetime.now(datetime.timezone.utc)
        runs = [f"`{r['command']}` (started {r['started']})" for r in self._invocations()] or ["none yet"]
        lines = [
            "Computed by: " + "; then ".join(runs),
            "",
            f"- Rendered: {now:%Y-%m-%d %H:%M} UTC",
            f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), Python "
            f"{platform.python_version()}, torch {torch.__version__}, {_threads(self._invocations())}",
            f"- Data: `{s.dataset}`, arch `{s.arch}`, test examples: {'all' if s.test_limit is None else s.test_limit}",
            f"- Rates: {', '.join(f'{100 * r:g}%' for r in s.rates)}; {s.chips} chips per cell "
            "(mean ± half-width of the 95% interval of the mean RErr over chips, in %)",
            f"- Training: {s.epochs} epochs per model, seed {s.seed}, SGD Nesterov 0.9, lr 0.05 cosine, "
            f"weight decay 5e-4, batch 128 (accelsim.train defaults)",
            f"- Settings: `{json.dumps(s.to_dict(), sort_keys=True)}`",
            "",
            self._trainer.markdown(tuple(m for t in self.tables.values() for m in t.models)),
        ]
        for i, table in enumerate(self.tables.values(), 1):
            lines += [f"### Table {i}: {table.name}", "", render_table(table, s.rates, self._results(table))]
            if table.name == "flatenn":
                lines.append(render_model_table("Activation sparsity and sharpness as accelsim.train measured "
                                                "them (8 bits, rquant)", table.rows, MEASURES,
                                                self._measures(table)))
        return "\n".join(lines)

    def write_tables(self, docs=None):
        """Write ``tables.md`` (and the marked region of ``docs``); return the markdown."""
        markdown = self.markdown()
        (self.out / "tables.md").write_text(markdown + "\n")
        if docs is not None:
            _replace_marked(Path(docs), markdown)
        return markdown


def _threads(invocations):
    """Torch threads of the computing runs (runs logged before threads were recorded used 1)."""
    threads = sorted({str(r.get("torch_threads", 1)) for r in invocations})
    return f"{' or '.join(threads)} torch thread(s)" if threads else "no computing run yet"


def _replace_marked(path, markdown, begin=DOCS_BEGIN, end=DOCS_END):
    try:
        text = path.read_text()
    except OSError as exc:
        raise ReproduceError(f"--docs {path}: cannot read it ({exc.strerror}); pass an existing markdown file") \
            from None
    marker_begin, marker_end = begin, end
    begin, end = text.find(marker_begin), text.find(marker_end)
    if begin < 0 or end < begin:
        raise ReproduceError(f"--docs {path} lacks the markers {marker_begin} ... {marker_end}; add them where "
                             "the tables belong")
    path.write_text(text[:begin + len(marker_begin)] + "\n" + markdown + "\n" + text[end:])
