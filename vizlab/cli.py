"""The ``vizlab`` command line.

Each part of the package may add sub-commands in its own ``vizlab/<part>/cli.py`` with a function
``add_commands(subparsers)``; they are found here automatically. A sub-command's handler takes the parsed
arguments and returns an exit code. Bad arguments, and ``ValueError``/``TypeError`` from the library, give a
one-line error and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import vizlab


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def _info(args: argparse.Namespace) -> int:
    from .device import describe_device, get_device
    from .images import sample_names
    from .models import available_models

    print(f"vizlab {vizlab.__version__}")
    print(f"device: {describe_device(get_device())}")
    print(f"models: {', '.join(available_models())}")
    print(f"sample images: {', '.join(sample_names())}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vizlab", description="Visualizing and understanding CNNs.")
    parser.add_argument("--version", action="version", version=f"vizlab {vizlab.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    info = sub.add_parser("info", help="versions, device, models and sample images")
    info.set_defaults(func=_info)
    for part in sorted(m.name for m in pkgutil.iter_modules(vizlab.__path__) if m.ispkg):
        try:
            module = importlib.import_module(f"vizlab.{part}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"vizlab.{part}.cli":
                raise
            continue
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, vizlab.ModelUnavailableError) as exc:
        print(f"vizlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"vizlab {args.command}: error: out of memory (is an image or a size very large?)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
