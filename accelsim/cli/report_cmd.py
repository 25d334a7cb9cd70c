"""``accelsim report DIR``: one self-contained report.html of a finished sweep."""

from accelsim.cli.plot_cmd import add_reference_options

__all__ = ["register"]


def register(subparsers):
    parser = subparsers.add_parser("report", help="write DIR/report.html: figures, operating points, spec",
                                   description="Write one self-contained page (figures inlined, readable "
                                               "offline) of the sweep in DIR: warnings, operating points, "
                                               "figures, summary, spec, versions and fingerprints.")
    parser.add_argument("directory", metavar="DIR", help="folder written by `accelsim sweep`")
    add_reference_options(parser)
    parser.set_defaults(handler=_run)


def _run(args):
    from accelsim.report import write_report

    print(write_report(args.directory, tolerance_pp=args.tolerance, energy_ref=args.energy_ref))
    return 0
