"""``vizlab gallery``: every explorer on one page, served by Voilà (see :mod:`vizlab.widgets.gallery`)."""
from __future__ import annotations

import argparse

from vizlab._validate import positive_int_arg   # standard library only: --help stays free of torch


def _gallery(args: argparse.Namespace) -> int:
    from .gallery import serve

    return serve(port=args.port, notebook=args.notebook, cull_idle=args.cull_idle)


def add_commands(sub) -> None:
    gallery = sub.add_parser("gallery", help="serve every explorer on one page with Voilà (no code shown)")
    gallery.add_argument("--port", type=int, default=None, help="TCP port (default: a free one)")
    gallery.add_argument("--notebook", default=None, help="serve this notebook instead of the built-in dashboard")
    # >= 1: Jupyter reads a timeout of 0 or less as "never cull", and closed pages' kernels would pile up again
    gallery.add_argument("--cull-idle", type=positive_int_arg, default=120, metavar="SECONDS",
                         help="shut down a kernel idle this long with no page open (default 120, at least 1; "
                              "each page load starts a kernel of about 1.3 GB)")
    gallery.set_defaults(func=_gallery)
