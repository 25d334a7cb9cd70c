"""``accelsim plot DIR``: redraw the figures of a finished sweep."""

__all__ = ["register"]


def register(subparsers):
    parser = subparsers.add_parser("plot", help="draw the figures of a sweep results folder",
                                   description="Draw energy_accuracy, accuracy_voltage, error_ber and "
                                               "ber_voltage from DIR/summary.csv into DIR.")
    parser.add_argument("directory", metavar="DIR", help="folder written by `accelsim sweep`")
    parser.add_argument("--format", default="png", choices=("png", "pdf", "svg"), dest="fmt",
                        help="file format (default: png)")
    add_reference_options(parser)
    parser.set_defaults(handler=_run)


def add_reference_options(parser):
    """``--tolerance`` and ``--energy-ref``: what the operating points of a finished sweep are measured against."""
    parser.add_argument("--tolerance", type=float, default=1.0, metavar="PP",
                        help="accuracy loss allowed for the operating points, in points (default: 1)")
    parser.add_argument("--energy-ref", metavar="MODEL",
                        help="model whose energy at nominal is 100%% (default: the first model)")


def _run(args):
    from accelsim.plot import draw_sweep

    for path in draw_sweep(args.directory, tolerance_pp=args.tolerance, energy_ref=args.energy_ref,
                           fmt=args.fmt):
        print(path)
    return 0
