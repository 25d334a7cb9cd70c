"""``accelsim plot DIR``: redraw the figures of a finished sweep."""

__all__ = ["register"]


def register(subparsers):
    parser = subparsers.add_parser("plot", help="draw the figures of a sweep results folder",
                                   description="Draw energy_accuracy.png, accuracy_voltage.png and "
                                               "ber_voltage.png from DIR/summary.csv into DIR.")
    parser.add_argument("directory", metavar="DIR", help="folder written by `accelsim sweep`")
    parser.set_defaults(handler=_run)


def _run(args):
    import json
    from pathlib import Path

    from accelsim.plot import draw_sweep

    spec_file = Path(args.directory) / "sweep.json"
    dataset = ""
    if spec_file.exists():
        try:
            dataset = str(json.loads(spec_file.read_bytes())["spec"]["dataset"])
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            pass  # the dataset only labels an axis; a damaged sweep.json does not stop the figures
    for path in draw_sweep(args.directory, dataset=dataset):
        print(path)
    return 0
