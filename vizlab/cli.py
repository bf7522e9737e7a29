"""The ``vizlab`` command line.

Each part of the package may add sub-commands in its own ``vizlab/<part>/cli.py`` with a function
``add_commands(subparsers)``; they are found here automatically. A sub-command's handler takes the parsed
arguments and returns an exit code. Bad arguments, and ``ValueError``/``TypeError`` from the library, give a
one-line error and exit code 2.

``--help`` and argument errors must not import torch (6-10 s): a part's ``cli.py`` imports only the standard
library at module level (its handlers import the rest), and it is loaded from its file without running the
part's ``__init__.py``, which imports torch.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

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


def _notebooks(args: argparse.Namespace) -> int:
    from .resources import copy_notebooks, notebooks_dir

    written = copy_notebooks(args.folder, overwrite=args.overwrite)
    print(f"copied {len(written)} notebook(s) from {notebooks_dir()} to {args.folder}"
          + ("" if args.overwrite else " (existing files kept; --overwrite replaces them)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vizlab", description="Visualizing and understanding CNNs.")
    parser.add_argument("--version", action="version", version=f"vizlab {vizlab.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    info = sub.add_parser("info", help="versions, device, models and sample images")
    info.set_defaults(func=_info)
    nbs = sub.add_parser("notebooks", help="copy the lecture and exercise notebooks into a folder of your own",
                         description="Copy the notebooks shipped with vizlab (lecture notebooks 00-..., exercises/ "
                                     "and student/) into FOLDER, to open them in Jupyter.")
    nbs.add_argument("folder", metavar="FOLDER", help="where the notebooks go (created if missing)")
    nbs.add_argument("--overwrite", action="store_true", help="replace notebooks that are already there")
    nbs.set_defaults(func=_notebooks)
    for part in sorted(m.name for m in pkgutil.iter_modules(vizlab.__path__) if m.ispkg):
        module = _part_cli(part)
        if module is not None:
            module.add_commands(sub)
    return parser


def _part_cli(part: str):
    """``vizlab.<part>.cli`` without importing ``vizlab.<part>`` itself (``None`` when the part has no CLI).

    The module is registered under its own name, so relative imports in its handlers resolve as usual (and
    import the part then, when a command runs).
    """
    name = f"vizlab.{part}.cli"
    if name in sys.modules:
        return sys.modules[name]
    for folder in vizlab.__path__:
        path = Path(folder) / part / "cli.py"
        if (Path(folder) / part).is_dir() and not path.is_file():
            return None  # a part without commands (importing it to find out would import torch)
        if path.is_file():
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            return module
    try:  # not a plain file (a zipped install): the ordinary import
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _model_unavailable() -> type[Exception]:
    """``vizlab.ModelUnavailableError`` if the models module is loaded (a command that ran used it), else a
    stand-in that matches nothing: looking the class up must not import torch."""
    models = sys.modules.get("vizlab.models")
    return models.ModelUnavailableError if models is not None else _Never


class _Never(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, _model_unavailable()) as exc:
        print(f"vizlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"vizlab {args.command}: error: out of memory (is an image or a size very large?)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
