"""The ``accelsim`` command: the only place that prints, shows progress or exits.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function taking the parsed
arguments and returning an exit code. Heavy libraries (torch, numba) are
imported inside handlers so that ``accelsim --help`` answers at once.
"""

import argparse
import errno
import importlib
import signal
import sys

from accelsim._errors import UserInputError
from accelsim._version import __version__

__all__ = ["main"]

# Subcommand modules, in the order ``accelsim --help`` lists them.
_SUBCOMMANDS = ("sweep", "plot", "report", "optimize", "attack", "profile", "train", "zoo", "accel")

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


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that it unwinds like Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    # Later signals are ignored: the first one's unwinding (closing the journal) must finish.
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Terminated(signum)


def _install_signals():
    """SIGTERM and SIGHUP unwind like Ctrl-C; a file-size limit is an OSError, not a kill."""
    previous = {}
    wanted = {"SIGTERM": _on_signal, "SIGHUP": _on_signal, "SIGXFSZ": signal.SIG_IGN}
    for name, handler in wanted.items():
        if hasattr(signal, name):
            try:
                previous[getattr(signal, name)] = signal.signal(getattr(signal, name), handler)
            except ValueError:  # not the main thread: leave signals alone
                pass
    return previous


def _interrupted(args, argv, exc):
    signum = getattr(exc, "signum", signal.SIGINT)
    name = signal.Signals(signum).name
    hint = getattr(args, "resume_hint", None)
    tail = f"; {hint(args, argv)}" if hint is not None else ""
    print(f"accelsim: interrupted by {name}{tail}", file=sys.stderr)
    return 128 + int(signum)


def main(argv=None):
    """Run the command line; return the process exit code.

    User errors (``UserInputError``, and ``OSError`` on files) print one line
    on stderr and return 2. Ctrl-C, SIGTERM and SIGHUP unwind the command
    (a sweep closes its journal), print one line (with the resume command
    for a sweep) and return 128 + the signal number (130, 143, 129).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_USAGE
    previous = _install_signals()
    try:
        return args.handler(args) or 0
    except UserInputError as exc:
        print(f"accelsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"accelsim: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        return _interrupted(args, argv, exc)
    except Exception as exc:
        # An interrupt raised inside a C callback (Numba, torch) arrives wrapped (SystemError).
        interrupt = _interrupt_in_chain(exc)
        if interrupt is None:
            raise
        return _interrupted(args, argv, interrupt)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt_in_chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _describe(exc):
    from accelsim._safeio import describe_os_error

    where = f"{exc.filename}: " if exc.filename else ""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    advice = "; free space (or raise the limit) and rerun" if full else ""
    return f"{where}{describe_os_error(exc)}{advice}"


def run():
    """Console-script entry point."""
    sys.exit(main())
