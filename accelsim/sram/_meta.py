"""The ``meta`` block of a profile file (version 1), validated field by field."""

import copy
import json
from dataclasses import dataclass

from accelsim._errors import UserInputError
from accelsim.sram._chip_models import MAX_VOLTAGE_V, ChipGenerator, UniformModel
from accelsim.sram._validate import (
    ProfileError,
    require_int,
    require_mapping,
    require_real,
    require_str,
)
from accelsim.sram.energy import EnergyModel

__all__ = ["ProfileMeta", "SCHEMA_VERSION", "KINDS", "META_KEYS"]

SCHEMA_VERSION = 1
KINDS = ("cells", "generated")
# Top-level keys in the order DESIGN.md lists them (and files store them).
META_KEYS = ("schema_version", "name", "description", "technology", "temperature_k",
             "arrays", "rows", "cols", "vdd_nominal_v", "vdd_min_v", "vdd_floor_v",
             "energy", "source", "kind", "generator", "notes")
_OPTIONAL_KEYS = ("generator", "notes")
_REQUIRED_KEYS = tuple(key for key in META_KEYS if key not in _OPTIONAL_KEYS)
# Bounds that keep flat indices in int64 and one array's drawing in memory;
# real SRAM arrays hold at most a few Mbit.
MAX_CELLS_PER_ARRAY = 2**26
MAX_CELLS = 2**40


@dataclass(frozen=True)
class ProfileMeta:
    """Everything a profile says about its chip besides the cells themselves.

    Attributes mirror the top-level keys of the file's ``meta`` JSON (see
    DESIGN.md, "Profile file (version 1)"); ``energy`` is an
    :class:`~accelsim.sram.energy.EnergyModel` and ``generator`` a
    ``ChipGenerator`` (``None`` for a ``cells`` profile).
    """

    name: str
    description: str
    technology: str
    temperature_k: float
    arrays: int
    rows: int
    cols: int
    vdd_nominal_v: float
    vdd_min_v: float
    vdd_floor_v: float
    energy: EnergyModel
    source: str | dict
    kind: str
    generator: ChipGenerator | None = None
    notes: object = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        version = require_int("meta.schema_version", self.schema_version)
        if version != SCHEMA_VERSION:
            raise ProfileError(f"meta.schema_version = {version} is not supported; expected "
                               f"{SCHEMA_VERSION} (re-create the profile with this accelsim)")
        require_str("meta.name", self.name, allow_empty=False)
        require_str("meta.description", self.description)
        require_str("meta.technology", self.technology)
        self._set("temperature_k", require_real("meta.temperature_k", self.temperature_k,
                                                minimum=0.0, open_minimum=True))
        for key in ("arrays", "rows", "cols"):
            self._set(key, require_int(f"meta.{key}", getattr(self, key), minimum=1))
        if self.cells_per_array > MAX_CELLS_PER_ARRAY or self.n_cells > MAX_CELLS:
            raise ProfileError(
                f"meta geometry {self.arrays} x {self.rows} x {self.cols} is too large; expected "
                f"rows x cols <= 2**26 cells per array and at most 2**40 cells in all")
        self._check_voltages()
        if not isinstance(self.energy, EnergyModel):
            raise ProfileError(f"meta.energy = {self.energy!r} is not an EnergyModel; "
                               "expected the energy parameters of the SRAM")
        self._check_source_and_notes()
        self._check_kind_and_generator()

    def _check_voltages(self):
        for key in ("vdd_nominal_v", "vdd_min_v", "vdd_floor_v"):
            self._set(key, require_real(f"meta.{key}", getattr(self, key), minimum=0.0,
                                        maximum=MAX_VOLTAGE_V, open_minimum=True))
        if not self.vdd_floor_v <= self.vdd_min_v <= self.vdd_nominal_v:
            raise ProfileError(
                f"meta voltages are out of order: vdd_floor_v = {self.vdd_floor_v}, vdd_min_v = "
                f"{self.vdd_min_v}, vdd_nominal_v = {self.vdd_nominal_v}; expected "
                "vdd_floor_v <= vdd_min_v <= vdd_nominal_v")

    def _check_source_and_notes(self):
        if not isinstance(self.source, (str, dict)):
            raise ProfileError(f"meta.source = {self.source!r} is a {type(self.source).__name__}; "
                               "expected a string or an object saying how the profile was made")
        for key in ("source", "notes"):
            # Our own copy, so that the caller's dict cannot change a frozen meta.
            self._set(key, copy.deepcopy(getattr(self, key)))
            try:
                json.dumps(getattr(self, key), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ProfileError(f"meta.{key} cannot be stored as JSON ({exc}); expected "
                                   "strings, numbers, lists and objects only") from None

    def _check_kind_and_generator(self):
        if self.kind not in KINDS:
            raise ProfileError(f"meta.kind = {self.kind!r} is unknown; expected one of "
                               f"{', '.join(KINDS)}")
        if self.kind == "cells" and self.generator is not None:
            raise ProfileError("meta.generator is set on a profile of kind 'cells'; a measured "
                               "profile lists its cells: drop generator or set kind 'generated'")
        if self.kind == "generated":
            if not isinstance(self.generator, ChipGenerator):
                raise ProfileError(f"meta.generator = {self.generator!r} on a profile of kind "
                                   "'generated'; expected the chip model, its seed and fingerprint")
            self.generator.model.check_geometry(self.rows, self.cols)
            if isinstance(self.generator.model, UniformModel) and \
                    self.vdd_floor_v >= self.vdd_nominal_v:
                raise ProfileError(f"meta.vdd_floor_v = {self.vdd_floor_v} equals vdd_nominal_v; "
                                   "the uniform model needs vdd_floor_v < vdd_nominal_v")

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    @property
    def cells_per_array(self):
        """Cells (bits) in one array: ``rows * cols``."""
        return self.rows * self.cols

    @property
    def n_cells(self):
        """Cells in the declared chip: ``arrays * rows * cols``."""
        return self.arrays * self.cells_per_array

    def to_dict(self):
        """The JSON-ready ``meta`` dict (``generator``/``notes`` only when set)."""
        meta = {}
        for key in META_KEYS:
            value = getattr(self, key)
            if key in _OPTIONAL_KEYS and value is None:
                continue
            # A copy: source and notes may be dicts the caller could mutate.
            meta[key] = value.to_dict() if key in ("energy", "generator") else copy.deepcopy(value)
        return meta

    @classmethod
    def from_dict(cls, meta):
        """Validate a ``meta`` dict read from a file; raise ``ProfileError`` if malformed."""
        require_mapping("meta", meta, _REQUIRED_KEYS, optional=_OPTIONAL_KEYS)
        values = dict(meta)
        try:
            values["energy"] = EnergyModel.from_dict(meta["energy"])
        except UserInputError as exc:
            raise ProfileError(f"meta.{exc}") from None
        if meta.get("generator") is not None:
            values["generator"] = ChipGenerator.from_dict(meta["generator"])
        return cls(**values)

