"""Training the models that the v2 tables add beyond the zoo, resumably."""

import time

__all__ = ["train_missing"]


def train_missing(configs, folder, progress, deadline=None):
    """Train every ``name -> TrainConfig`` of ``configs`` whose checkpoint is not in ``folder`` yet.

    An interrupted training resumes from its last epoch (``accelsim.train``
    keeps a side file). Returns False when ``deadline`` (a ``time.time()``)
    stopped it before every model was trained.
    """
    from accelsim.train import train

    folder.mkdir(parents=True, exist_ok=True)
    for name, config in configs.items():
        path = folder / f"{name}.pt"
        if path.exists():
            continue
        if deadline is not None and time.time() > deadline:
            return False
        start = time.perf_counter()
        result = train(config, out=path)
        progress(f"v2: trained {name}, clean accuracy {100 * result.meta['clean_accuracy']:.2f}% "
                 f"({time.perf_counter() - start:.0f} s)")
    return True
