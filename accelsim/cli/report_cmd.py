"""``accelsim report DIR``: one self-contained report.html of a finished sweep."""

__all__ = ["register"]


def register(subparsers):
    parser = subparsers.add_parser("report", help="write DIR/report.html: figures, operating points, spec",
                                   description="Write one self-contained page (figures inlined, readable "
                                               "offline) of the sweep in DIR: warnings, operating points, "
                                               "figures, summary, spec, versions and fingerprints.")
    parser.add_argument("directory", metavar="DIR", help="folder written by `accelsim sweep`")
    parser.add_argument("--tolerance", type=float, default=1.0, metavar="PP",
                        help="accuracy loss allowed for the operating points, in points (default: 1)")
    parser.add_argument("--energy-ref", metavar="MODEL",
                        help="model whose energy at nominal is 100%% (default: the first model)")
    parser.set_defaults(handler=_run)


def _run(args):
    from accelsim.report import write_report

    print(write_report(args.directory, tolerance_pp=args.tolerance, energy_ref=args.energy_ref))
    return 0
