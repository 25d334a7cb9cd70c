"""Profiles of measured chips: from fault dumps, fault maps or cell tables.

Three formats (``DESIGN.md``, ``accelsim profile import``):

``fpga-hex``
    One dump per supply voltage of memory written all ones, voltage in the
    file name (``KC705B-0.53.bin``), as in the KC705 block-RAM data of
    Salami et al. (MICRO 2018). A cell that reads 0 is stuck-at-0.
``stuck-at-maps``
    Comma-separated 0/1 matrices ``fmap_sa0_v_<V>.txt`` and
    ``fmap_sa1_v_<V>.txt`` (1 = faulty cell of that polarity), one per
    voltage and polarity, the layout IBM's NeuralFuse code reads.
``cells-csv``
    One row per faulty cell, ``array,row,col,v_fail_v,fault_kind[,p_error]``,
    with its fail voltage given.

Dumps and maps tell at which measured voltages a cell reads wrong, not where
between them it fails; :mod:`accelsim.sram._placement` places it so that the
BER between measured voltages follows a Gaussian fit of the measured curve,
and the profile reproduces each measured count exactly.
"""

from pathlib import Path

import numpy as np

from accelsim.sram._assemble import (
    ImportSummary,
    Observations,
    arrays_without_fault,
    checked_nominal,
    profile_from_observations,
    profile_meta,
)
from accelsim.sram._readers import (
    ProfileImportError,
    parse_cells_csv,
    parse_fault_map,
    parse_hex_name,
    parse_map_name,
    read_file,
    stream_hex_dump,
)
from accelsim.sram.cells import SA0, SA1, CellTable
from accelsim.sram.profile import Profile

__all__ = [
    "ImportSummary",
    "ProfileImportError",
    "import_fpga_hex",
    "import_stuck_at_maps",
    "import_cells_csv",
    "IMPORT_FORMATS",
]

IMPORT_FORMATS = ("fpga-hex", "stuck-at-maps", "cells-csv")

# A 36 Kb block RAM of the KC705 holds 8,192 data cells. The dump does not
# say how they are organised in rows and columns; 128 x 64 is our choice and
# only shows in per-array maps, since memory lays bits out linearly.
FPGA_ROWS, FPGA_COLS = 128, 64
_TEMPERATURE_K = 300.0


def import_fpga_hex(paths, *, vdd_nominal_v=1.0, name=None, step_v=None, seed=0,
                    technology="FPGA block RAM", temperature_k=_TEMPERATURE_K, command=None):
    """Import per-voltage dumps of FPGA block RAM written all ones.

    Each file is one line of hex digits in which every byte appears twice
    (only the first copy is kept); bits are taken in the order of the string,
    most significant first; array ``k`` holds cells ``[8192 k, 8192 (k+1))``,
    organised as 128 rows x 64 columns (a choice: the dump has no geometry).

    Parameters
    ----------
    paths : sequence of str or Path
        One dump per voltage, named ``<chip>-<volts>.bin``.
    vdd_nominal_v : float, optional
        Nominal supply in volts.
    name : str, optional
        Profile name; default the file names' prefix (``KC705B``).
    step_v : float, optional
        Width of the interval above the highest measured voltage in which
        cells faulty there are placed; default the spacing of the two highest
        measured voltages. Required with a single dump.
    seed : int, optional
        Seeds which cell of an interval takes which quantile.
    technology : str, optional
        Stored in the profile meta.
    temperature_k : float, optional
        Measurement temperature in kelvin (room temperature unless known).
    command : str, optional
        The command that ran the import, kept as provenance.

    Returns
    -------
    profile : Profile
    summary : ImportSummary

    Raises
    ------
    ProfileImportError
        For a file that is missing, has no voltage in its name, holds a
        non-hex character, has the wrong length or one inconsistent with the
        other dumps, or for a voltage above nominal or given twice.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise ProfileImportError("no input files; pass at least one file to import")
    bits_per_array = FPGA_ROWS * FPGA_COLS
    chip_names, voltages_v = zip(*(parse_hex_name(path) for path in paths), strict=True)  # names first: no reading
    # Streamed in chunks: a dump of gigabytes never sits in memory whole (or twice).
    streamed = [stream_hex_dump(path, bits_per_array) for path in paths]
    decoded = [(zero_bits, n_cells) for zero_bits, n_cells, _ in streamed]
    raws = [raw for _, _, raw in streamed]
    sizes = np.array([n_cells for _, n_cells in decoded])
    odd = np.flatnonzero(sizes != sizes[0])
    if odd.size:
        raise ProfileImportError(
            f"{raws[odd[0]].path}: holds {sizes[odd[0]]} cells but {raws[0].path} holds "
            f"{sizes[0]}; expected dumps of the same chip, all of the same length")
    n_cells = int(sizes[0])
    order = _voltage_order(voltages_v, [raw.path for raw in raws])
    observations = Observations(
        voltages_v=np.asarray(voltages_v)[order],
        faulty_index=[decoded[i][0] for i in order],
        fault_kind=[np.full(decoded[i][0].size, SA0, np.uint8) for i in order],
        arrays=n_cells // bits_per_array, rows=FPGA_ROWS, cols=FPGA_COLS)
    return profile_from_observations(
        "fpga-hex", observations, raws, vdd_nominal_v=vdd_nominal_v, name=name or chip_names[0],
        step_v=step_v, seed=seed, technology=technology, temperature_k=temperature_k,
        command=command)


def import_stuck_at_maps(paths, *, vdd_nominal_v=1.0, name=None, step_v=None, seed=0,
                         technology="unknown", temperature_k=_TEMPERATURE_K, command=None):
    """Import stuck-at fault maps ``fmap_sa<0|1>_v_<volts>.txt``.

    Each map is a comma-separated 0/1 matrix of one array (rows x columns,
    1 = faulty cell of that polarity); the profile has one array of the
    maps' shape. Every measured voltage must come with the same polarities.
    A cell stuck at different values at different voltages keeps the kind
    seen at its highest faulty voltage, where it first fails.

    Parameters
    ----------
    paths : sequence of str or Path
        The maps.
    vdd_nominal_v, name, step_v, seed, technology, temperature_k, command
        As in :func:`import_fpga_hex`; ``name`` defaults to the maps' folder.

    Returns
    -------
    profile : Profile
    summary : ImportSummary

    Raises
    ------
    ProfileImportError
        For a badly named file, a malformed matrix, maps of different shapes,
        a polarity missing at some voltage, a map given twice, or a cell
        marked stuck-at-0 and stuck-at-1 at the same voltage.
    """
    raws = _read_all(paths)
    keys = [parse_map_name(raw.path) for raw in raws]
    maps = [parse_fault_map(raw) for raw in raws]
    shape = maps[0].shape
    for raw, fault_map in zip(raws, maps, strict=True):
        if fault_map.shape != shape:
            raise ProfileImportError(
                f"{raw.path}: a {fault_map.shape[0]} x {fault_map.shape[1]} map, but "
                f"{raws[0].path} is {shape[0]} x {shape[1]}; expected maps of one array, all "
                "of the same shape")
    voltages_v = sorted({vdd_v for _, vdd_v in keys})
    polarities = _check_polarities(keys, raws, voltages_v)
    faulty_index, fault_kind = zip(*(_stuck_cells_at(vdd_v, polarities, maps, keys, raws)
                                     for vdd_v in voltages_v), strict=True)
    observations = Observations(np.asarray(voltages_v), list(faulty_index), list(fault_kind),
                                arrays=1, rows=shape[0], cols=shape[1])
    return profile_from_observations(
        "stuck-at-maps", observations, raws, vdd_nominal_v=vdd_nominal_v,
        name=name or raws[0].path.resolve().parent.name, step_v=step_v, seed=seed,
        technology=technology, temperature_k=temperature_k, command=command)


def import_cells_csv(path, *, vdd_nominal_v=1.0, name=None, arrays=None, rows=None, cols=None,
                     technology="unknown", temperature_k=_TEMPERATURE_K, command=None):
    """Import a table of faulty cells with their fail voltages.

    The CSV has the header ``array,row,col,v_fail_v,fault_kind[,p_error]``
    (any column order). The geometry comes from ``arrays``, ``rows`` and
    ``cols``; each one not given is inferred as the largest index in the
    table plus one, which undercounts a chip whose last arrays, rows or
    columns hold no faulty cell: pass the true geometry when it is known.
    The profile's floor is the lowest listed fail voltage and its Vmin the
    lowest voltage above every listed fail voltage.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    vdd_nominal_v, technology, temperature_k, command
        As in :func:`import_fpga_hex`.
    name : str, optional
        Profile name; default the file's stem.
    arrays, rows, cols : int, optional
        Geometry of the chip.

    Returns
    -------
    profile : Profile
    summary : ImportSummary

    Raises
    ------
    ProfileImportError
        Naming the line and column of a missing column or a bad value, a cell
        outside the given geometry, a cell listed twice, or fail voltages
        above nominal.
    """
    raw = read_file(path)
    table = parse_cells_csv(raw)
    geometry = _csv_geometry(raw, table, arrays=arrays, rows=rows, cols=cols)
    cells_per_array = geometry["rows"] * geometry["cols"]
    index = (table.array * geometry["rows"] + table.row) * geometry["cols"] + table.col
    order = _unique_cell_order(raw, table, index)
    vdd_nominal_v = checked_nominal(vdd_nominal_v)
    highest_v = float(table.v_fail_v.max())
    if highest_v > vdd_nominal_v:
        raise ProfileImportError(
            f"{raw.path}, line {table.line[np.argmax(table.v_fail_v)]}: v_fail_v {highest_v:g} V "
            f"is above the nominal supply {vdd_nominal_v:g} V; pass the chip's nominal voltage "
            "(--vdd-nominal)")
    cells = CellTable(index[order], table.v_fail_v[order], table.fault_kind[order],
                      table.p_error[order])
    summary = ImportSummary(
        format="cells-csv", cells=geometry["arrays"] * cells_per_array, **geometry,
        voltages_v=(), seen_faulty=(), faulty=(), fit=None, non_nested=0,
        arrays_without_fault_at_floor=arrays_without_fault(index, geometry["arrays"],
                                                           cells_per_array),
        vdd_floor_v=float(table.v_fail_v.min()),
        # A cell is faulty at V <= v_fail_v: the next float above is fault-free.
        vdd_min_v=min(float(np.nextafter(highest_v, np.inf)), vdd_nominal_v))
    notes = ("Fail voltages as listed in the CSV. Vmin is the lowest voltage above every listed "
             "fail voltage; the floor is the lowest listed fail voltage.")
    meta = profile_meta(summary, [raw], name=name or raw.path.stem, vdd_nominal_v=vdd_nominal_v,
                        technology=technology, temperature_k=temperature_k, command=command,
                        placement=None, notes=notes)
    return Profile(meta, cells), summary


def _csv_geometry(raw, table, **given):
    """Arrays, rows and cols: as given, else the largest index in the table plus one."""
    geometry = {}
    for field, values in (("arrays", table.array), ("rows", table.row), ("cols", table.col)):
        geometry[field] = (int(values.max()) + 1 if given[field] is None
                           else _positive_int(field, given[field]))
        outside = np.flatnonzero(values >= geometry[field])
        if outside.size:
            raise ProfileImportError(
                f"{raw.path}, line {table.line[outside[0]]}: index {values[outside[0]]} is "
                f"outside the chip's {geometry[field]} {field}; pass the chip's true {field} "
                "or fix the row")
    return geometry


def _unique_cell_order(raw, table, index):
    """The order sorting ``index``; refuse a cell listed twice, naming both lines."""
    order = np.argsort(index, kind="stable")
    repeated = np.flatnonzero(np.diff(index[order]) == 0)
    if repeated.size:
        first, second = table.line[order[repeated[0]]], table.line[order[repeated[0] + 1]]
        raise ProfileImportError(
            f"{raw.path}, lines {first} and {second}: the same cell is listed twice; expected "
            "one row per cell")
    return order


def _read_all(paths):
    if isinstance(paths, (str, Path)):
        paths = [paths]
    raws = [read_file(path) for path in paths]
    if not raws:
        raise ProfileImportError("no input files; pass at least one file to import")
    return raws


def _voltage_order(voltages_v, paths):
    order = np.argsort(voltages_v, kind="stable")
    same = np.flatnonzero(np.diff(np.asarray(voltages_v)[order]) == 0)
    if same.size:
        a, b = order[same[0]], order[same[0] + 1]
        raise ProfileImportError(
            f"{paths[a]} and {paths[b]}: both measured at {voltages_v[a]:g} V; expected one "
            "file per voltage")
    return order


def _check_polarities(keys, raws, voltages_v):
    """The polarities every voltage has; refuse duplicates and missing maps."""
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise ProfileImportError(
                f"{raws[keys.index(key)].path} and {raws[i].path}: the same polarity and voltage "
                "twice; expected one map per polarity and voltage")
    polarities = sorted({kind for kind, _ in keys})
    for kind in polarities:
        for vdd_v in voltages_v:
            if (kind, vdd_v) not in keys:
                raise ProfileImportError(
                    f"no fmap_sa{kind}_v_{vdd_v:g}.txt among the maps, although other voltages "
                    f"have stuck-at-{kind} maps; expected both polarities at every voltage or "
                    "one polarity throughout")
    return polarities


def _stuck_cells_at(vdd_v, polarities, maps, keys, raws):
    """Flat indices (ascending) and kinds of the cells the maps of ``vdd_v`` mark faulty."""
    marked = {kind: maps[keys.index((kind, vdd_v))].ravel() for kind in polarities}
    if len(marked) == 2 and np.any(marked[SA0] & marked[SA1]):
        row, col = np.unravel_index(np.flatnonzero(marked[SA0] & marked[SA1])[0], maps[0].shape)
        raise ProfileImportError(
            f"{_map_path(raws, keys, SA0, vdd_v)} and {_map_path(raws, keys, SA1, vdd_v)}: cell "
            f"(row {row + 1}, column {col + 1}) is marked both stuck-at-0 and stuck-at-1 "
            "at the same voltage; expected at most one polarity per cell")
    index = np.flatnonzero(np.logical_or.reduce(list(marked.values())))
    kinds = np.zeros(index.size, np.uint8)
    for kind, flags in marked.items():
        kinds[flags[index]] = kind
    return index.astype(np.int64), kinds


def _map_path(raws, keys, kind, vdd_v):
    return raws[keys.index((kind, vdd_v))].path


def _positive_int(field, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ProfileImportError(f"{field} = {value!r}; expected a positive integer")
    return int(value)
