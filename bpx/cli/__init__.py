"""The ``bpx`` command line: one module per command, each with ``add_parser`` and ``run``.

Bad flags exit with status 2 and one line saying what was wrong; a failing command exits with
status 1 and one line ``bpx <command>: error: ...``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# the commands print backend='fastest''s choice themselves (bpx train, bpx bench --fastest, bpx info): its
# warning-level log line, which Python sessions see on stderr, would say it twice
logging.getLogger("bpx.fastest").addHandler(logging.NullHandler())

COMMANDS = ("train", "predict", "evaluate", "summary", "explain", "info", "parity", "bench", "export")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = ArgumentParser(prog="bpx", description="Hand-derived backprop on any array backend.")
    from bpx._version import __version__

    parser.add_argument("--version", action="version", version=f"bpx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        module = _module(name)
        if module is not None:
            module.add_parser(sub)
    return parser


def _module(name):
    try:
        return importlib.import_module(f"bpx.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bpx.cli.{name}":
            return None
        raise


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the command line as given (bpx train prints the one that resumes an interrupted run)
    if args.command is None:
        parser.print_help()
        return 2
    return run_command(args)


def run_command(args):
    """Run a parsed command: its exit status, with a failure as one line ``bpx <command>: error: ...``."""
    try:
        return args.run(args) or 0
    except BrokenPipeError:  # `bpx ... | head`: the reader left; not an error
        sys.stdout = None
        return 0
    except KeyboardInterrupt:
        print(f"bpx {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError, RuntimeError) as exc:
        print(f"bpx {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
