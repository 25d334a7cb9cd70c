"""Trained models of the reproduction: one ``accelsim.train`` run per model, cached.

Each model is trained once into ``OUT/models/<name>.pt`` (a DESIGN.md
checkpoint) and a record ``<name>.json`` (configuration, wall time, clean
accuracy). A checkpoint whose record is missing is an interrupted run: it is
resumed by ``accelsim.train`` from its last finished epoch.
"""

import json
import time

from accelsim.models import build
from accelsim.train import TrainConfig, load_checkpoint, train

__all__ = ["Trainer", "MEASURES"]

MEASURES = ("activation_sparsity", "max_loss_increase", "hessian_trace")

class Trainer:
    """Trains (or finds) the checkpoint of each :class:`~_reproduce.plan.ModelSpec`.

    Parameters
    ----------
    settings : plan.Settings
    folder : Path
        Receives the checkpoints and their records.
    progress : callable
        Called with one line of text per event.
    """

    def __init__(self, settings, folder, progress):
        self._settings = settings
        self._folder = folder
        self._progress = progress

    def config(self, spec):
        """The :class:`accelsim.train.TrainConfig` of ``spec`` under the run's settings."""
        s = self._settings
        return TrainConfig(dataset=s.dataset, arch=s.arch, bits=spec.bits, method=spec.method, clip=spec.clip,
                           p_train=spec.p_train, fault_model=spec.fault_model, fault_chip=spec.fault_chip,
                           act_sparsity=spec.act_sparsity, epochs=s.epochs, seed=s.seed,
                           train_limit=s.train_limit)

    def _record_path(self, spec):
        return self._folder / f"{spec.name}.json"

    def checkpoint(self, spec):
        """Path of ``spec``'s checkpoint, training (or resuming) it first when needed."""
        path = self._folder / f"{spec.name}.pt"
        record_path = self._record_path(spec)
        if record_path.exists():
            return path
        self._folder.mkdir(parents=True, exist_ok=True)
        config = self.config(spec)
        self._progress(f"train {spec.name}: {config.epochs} epochs")
        start = time.perf_counter()
        result = train(config, path, progress=self._epoch_reporter(spec))
        record = {"config": config.to_dict(), "train_seconds": time.perf_counter() - start,
                  "clean_accuracy": float(result.meta["clean_accuracy"])}
        record_path.write_text(json.dumps(record, indent=1) + "\n")
        self._progress(f"train {spec.name}: done in {record['train_seconds']:.0f} s, "
                       f"clean accuracy {100 * record['clean_accuracy']:.2f}%")
        return path

    def _epoch_reporter(self, spec):
        def report(event):
            if event.test_accuracy is not None:
                self._progress(f"train {spec.name}: epoch {event.epoch + 1}/{event.epochs}, loss {event.loss:.4f}, "
                               f"test accuracy {100 * event.test_accuracy:.2f}%")
        return report

    def measures(self, spec):
        """Activation sparsity and sharpness that ``accelsim.train`` measured on ``spec``'s model.

        Returns
        -------
        dict
            ``activation_sparsity`` (share of zero ReLU outputs on the test
            set), ``max_loss_increase`` (within a 5% relative weight
            perturbation) and ``hessian_trace`` (Hutchinson); empty before
            the model is trained.
        """
        if not self._record_path(spec).exists():
            return {}
        _, meta = load_checkpoint(self._folder / f"{spec.name}.pt")
        sharpness = meta.get("sharpness") or {}
        measures = {"activation_sparsity": meta.get("sparsity"),
                    "max_loss_increase": sharpness.get("max_loss_increase"),
                    "hessian_trace": sharpness.get("hessian_trace")}
        return {name: float(value) for name, value in measures.items() if value is not None}

    def float_module(self, spec):
        """The trained float network of ``spec`` (its checkpoint's weights in a fresh module)."""
        state_dict, meta = load_checkpoint(self.checkpoint(spec))
        module = build(meta["arch"])
        module.load_state_dict(state_dict)
        return module.eval()

    def markdown(self, specs):
        """A markdown table of the training records of ``specs`` (settings, wall time, clean accuracy)."""
        lines = ["| model | epochs | settings | training time (s) | clean accuracy % (as trained) |",
                 "|---|---|---|---|---|"]
        for spec in dict.fromkeys(specs):
            path = self._record_path(spec)
            if not path.exists():
                lines.append(f"| {spec.name} | pending | pending | pending | pending |")
                continue
            record = json.loads(path.read_text())
            config = record["config"]
            lines.append(f"| {spec.name} | {config['epochs']} | {_method_settings(config)} | "
                         f"{record['train_seconds']:.0f} | {100 * record['clean_accuracy']:.2f} |")
        return "\n".join(["**Trained models**", ""] + lines) + "\n"


def _method_settings(config):
    """The hyperparameters that set a method apart, as ``name=value`` pairs."""
    names = ["bits", "scheme", "clip", "act_sparsity"]
    if config["method"] == "randbet":
        names += ["p_train", "fault_model", "fault_chip", "randbet_grad_clip"]
    if config["method"] == "saq":
        names.append("saq_rho")
    return ", ".join(f"{name}={config[name]}" for name in names if config.get(name) not in (None, 0, 0.0))
