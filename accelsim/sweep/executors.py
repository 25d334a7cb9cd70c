"""Where sweep units run: in this process, or on a Dask cluster.

The unit of work is one (model, chip) with all its voltages, so reuse across
voltages works on any executor. Dask workers receive the spec as a dict and
load profile, model and data themselves.
"""

import logging

from accelsim.sweep import unit
from accelsim.sweep.spec import SweepError, SweepSpec
from accelsim.sweep.unit import run_chips, run_unit

__all__ = ["LocalExecutor", "DaskExecutor", "make_executor"]

_CONNECT_TIMEOUT_S = 10


class LocalExecutor:
    """Runs units in this process, up to ``unit.CHIPS_PER_PASS`` chips of a model at once.

    Rows reach ``on_row`` per point, as soon as each is finished (points
    stacked in one layer call finish together).
    """

    name = "local"

    def map_units(self, spec, units, on_row):
        group = []
        for item in [*units, None]:
            model_done = group and (item is None or item[0] is not group[0][0])
            if group and (model_done or len(group) >= unit.CHIPS_PER_PASS):
                run_chips(spec, group[0][0], [c for _, c, _ in group], [d for _, _, d in group], on_row)
                if model_done:  # its clean activations and chips are not needed again
                    unit.release_model(spec, group[0][0])
                group = []
            if item is not None:
                group.append(item)

    def close(self):
        pass


def _remote_unit(spec, model, chip, done):
    rows = []
    if isinstance(spec, dict):
        spec = SweepSpec.from_dict(spec)
    # Dask already runs one unit per worker thread: batches stay on that thread.
    run_unit(spec, model, chip, done, rows.append, batch_threads=1)
    return rows


class DaskExecutor:
    """Sends units to a Dask scheduler (``address``) or a new local cluster (None).

    Rows of a unit reach ``on_row`` when the unit finishes on its worker.
    """

    def __init__(self, address=None, n_workers=2):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise SweepError("--executor dask needs dask.distributed: pip install 'accelsim[dask]'") from None
        self.name = "dask" if address is None else f"dask:{address}"
        self._cluster = None
        try:
            if address is None:
                self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout=_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {address!r} ({exc}); start one with "
                             "`dask scheduler` or use --executor local") from None

    def map_units(self, spec, units, on_row):
        from dask.distributed import as_completed

        if spec.in_memory:
            # In-memory models and data travel once per worker through Dask's own serialisation
            # (never through a file); a model entry becomes its index, which survives the trip.
            [payload] = self._client.scatter([spec], broadcast=True)
            units = [(_index(spec, model), chip, done) for model, chip, done in units]
        else:
            payload = spec.to_dict()
        futures = [self._client.submit(_remote_unit, payload, model, chip, done, pure=False)
                   for model, chip, done in units]
        for future in as_completed(futures):
            for row in future.result():
                on_row(row)

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _index(spec, model):
    return next(i for i, item in enumerate(spec.models) if item is model or
                (isinstance(item, str) and item == model))


def make_executor(text):
    """Executor for ``local``, ``dask`` or ``dask:ADDRESS``."""
    if text == "local":
        return LocalExecutor()
    if text == "dask":
        return DaskExecutor()
    if text.startswith("dask:") and len(text) > 5:
        return DaskExecutor(text[5:])
    raise SweepError(f"--executor {text!r}: expected local, dask or dask:ADDRESS")
