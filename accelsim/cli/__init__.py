"""The ``accelsim`` command: the only place that prints, shows progress or exits.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function taking the parsed
arguments and returning an exit code. Heavy libraries (torch, numba) are
imported inside handlers so that ``accelsim --help`` answers at once.
"""

import argparse
import importlib
import sys

from accelsim._errors import UserInputError
from accelsim._version import __version__

__all__ = ["main"]

# Subcommand modules, in the order ``accelsim --help`` lists them.
_SUBCOMMANDS = ("sweep", "plot", "profile", "train", "zoo", "attack")

EXIT_USAGE = 2


def build_parser():
    """Return the top-level argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="accelsim",
        description="Energy and accuracy of DNN accelerators whose weight SRAM runs below safe voltage.",
    )
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"accelsim.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"accelsim.cli.{name}_cmd":
                raise
            continue  # subcommand not built yet
        module.register(subparsers)
    return parser


def main(argv=None):
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args) or 0
    except UserInputError as exc:
        print(f"accelsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130


def run():
    """Console-script entry point."""
    sys.exit(main())
