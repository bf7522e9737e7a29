"""``vizlab release`` (student notebooks from the instructor ones) and ``vizlab grade`` (the autograder)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

# Upper bounds of the limits (also checked by vizlab.exercises.grading.Limits): beyond them a number is a typo
# (`--call-timeout 1e10` overflowed the timers and scored correct notebooks zero). Here, not in grading, so that
# building the parser imports no torch.
LIMIT_BOUNDS = {"timeout": 86400.0, "memory_mb": 2**20, "call_timeout": 86400.0, "file_bytes": 2**30,
                "notebook_bytes": 2**30, "student_timeout": 7 * 86400.0, "processes": 4096, "open_files": 65536}
MAX_JOBS = 256


def _release(args: argparse.Namespace) -> int:
    from .release import SOURCE_DIR, STUDENT_DIR, release

    paths = release(args.source or SOURCE_DIR, args.out or STUDENT_DIR, check=args.check)
    if args.check:
        for p in paths:
            print(f"out of date: {p}")
        if paths:
            print("run `vizlab release` to update the student notebooks")
        return 1 if paths else 0
    for p in paths:
        print(f"wrote {p}")
    return 0


def _positive(kind: type, high: float) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` greater than zero and at most ``high``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _grade(args: argparse.Namespace) -> int:
    from .grading import Limits, grade

    try:
        limits = Limits(timeout=args.timeout, memory_mb=args.memory_mb, call_timeout=args.call_timeout,
                        student_timeout=args.student_timeout)
    except ValueError as exc:
        print(f"vizlab grade: error: {exc}", file=sys.stderr)
        return 2
    exercises = args.exercises.split(",") if args.exercises else None
    try:
        results = grade(args.submissions, args.out, exercises=exercises, limits=limits, jobs=args.jobs,
                        regrade=args.regrade, progress=not args.quiet, feedback_dir=args.feedback,
                        scratch=args.scratch, sandbox=args.sandbox)
    except RuntimeError as exc:  # no sandbox could be started
        print(f"vizlab grade: error: {exc}", file=sys.stderr)
        return 2
    if results:
        mean = sum(r["total"] for r in results) / len(results)
        flagged = sum(1 for r in results if r["notes"])
        print(f"graded {len(results)} submission(s): mean {mean:.2f} / {results[0]['max_total']:g}, "
              f"{flagged} with notes about the run; {args.out}")
    else:
        print(f"graded 0 submission(s): no notebooks in {args.submissions}; {args.out}")
    ungraded = [r["student"] for r in results if r.get("ungraded")]
    if ungraded:
        print(f"vizlab grade: {len(ungraded)} submission(s) could not be graded (zero, see their feedback): "
              f"{', '.join(ungraded[:10])}", file=sys.stderr)
        return 1
    return 0


def add_commands(sub) -> None:
    # Defaults are resolved when the command runs (vizlab.exercises imports torch; --help must not).
    rel = sub.add_parser("release", help="write the student notebooks (solutions stubbed, hidden tests removed)")
    rel.add_argument("--source", default=None,
                     help="instructor notebooks (default: the exercises shipped with vizlab)")
    rel.add_argument("--out", default=None,
                     help="where student copies go (default: notebooks/student in a source checkout, else "
                          "./student in the current folder)")
    rel.add_argument("--check", action="store_true", help="only report copies that are out of date (exit 1)")
    rel.set_defaults(func=_release)

    gr = sub.add_parser("grade", help="grade submitted notebooks, each in a sandbox of its own")
    gr.add_argument("submissions", help="folder of <student>.ipynb files or <student>/ folders")
    gr.add_argument("--out", default="grades.csv", help="CSV of points (default: %(default)s)")
    gr.add_argument("--feedback", default=None, help="folder for <student>.txt/.json (default: <out>_feedback)")
    gr.add_argument("--exercises", default=None, help="comma-separated exercise names (default: all)")
    gr.add_argument("--jobs", type=_positive(int, MAX_JOBS), default=None,
                    help="parallel submissions (default: CPU cores)")
    gr.add_argument("--timeout", type=_positive(float, LIMIT_BOUNDS["timeout"]), default=300.0,
                    help="seconds per notebook (default: %(default)s)")
    gr.add_argument("--student-timeout", type=_positive(float, LIMIT_BOUNDS["student_timeout"]), default=None,
                    help="seconds for all of a student's notebooks together (default: twice --timeout)")
    gr.add_argument("--call-timeout", type=_positive(float, LIMIT_BOUNDS["call_timeout"]), default=60.0,
                    help="seconds per cell or call (default: %(default)s)")
    gr.add_argument("--memory-mb", type=_positive(int, LIMIT_BOUNDS["memory_mb"]), default=4096,
                    help="memory of all of a notebook's processes together (default: %(default)s)")
    gr.add_argument("--sandbox", choices=("auto", "bwrap", "unshare", "none"), default=None,
                    help="isolation of each notebook: auto (bwrap, else unshare), bwrap, unshare, or none (only "
                         "for trusted notebooks; default: $VIZLAB_SANDBOX, else auto)")
    gr.add_argument("--scratch", default=None, help="with --sandbox none: folder for the notebooks' work folders")
    gr.add_argument("--regrade", action="store_true", help="grade again even unchanged submissions")
    gr.add_argument("--quiet", action="store_true", help="no progress bar")
    gr.set_defaults(func=_grade)
