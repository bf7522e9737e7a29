"""What the grader writes: per-student feedback (``.txt`` and ``.json``) and the CSV of points, each file written
atomically; names made safe and distinct; CSV cells a spreadsheet will not run as formulas."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any, Sequence

def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "_"


def feedback_name(student: str) -> str:
    """The file stem of a student's feedback: readable, and distinct for distinct names (a hash of the name)."""
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_safe_name(student).lstrip('.')[:60] or '_'}-{digest}"


def clean_text(text: str, keep: str = "\n\t") -> str:
    """``text`` without control characters (terminal escapes, carriage returns, bidirectional overrides) except
    those in ``keep``: text a notebook chose cannot repaint a terminal or reorder what ``cat`` shows."""
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))


def feedback_text(result: dict) -> str:
    """The per-student feedback: score per exercise, what failed and why, notes about the run."""
    lines = [f"Feedback for {result['student']}  ({', '.join(result['notebooks']) or 'no notebook'})",
             f"Total: {result['total']:g} / {result['max_total']:g}"]
    if result.get("caps"):
        lines.append(f"Caps: {result['caps']}")
    lines.append("")
    for name, s in result["exercises"].items():
        mark = "?" if s.get("review") else "✓" if s["passed"] == s["total"] else "✗"
        lines.append(f"{mark} {s['title']} [{name}]: {s['points']:g} / {s['max']:g}  "
                     f"({s['passed']} of {s['total']} tests passed, hidden tests included)")
        for problem in s["problems"]:
            lines.extend("    " + line for line in f"- {problem}".splitlines())
    if result["notes"]:
        lines += ["", "About the run:"] + [f"  - {note}" for note in result["notes"]]
    return clean_text("\n".join(lines)) + "\n"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then ``os.replace`` it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula: text starting with ``= + - @`` gets a leading
    apostrophe; control characters (tabs, carriage returns, terminal escapes) are removed."""
    if isinstance(value, str):
        value = clean_text(value, keep="")
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


def _write_csv(out: Path, feedback: Path, students: Sequence[str], exercises: Sequence[str],
               results: dict[str, dict] | None = None) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", *exercises, "total", "max_total", "notes", "needs_review"])
    for student in students:
        result = (results or {}).get(student)
        if result is None:
            try:
                result = json.loads((feedback / f"{feedback_name(student)}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        writer.writerow([csv_cell(student), *(result["exercises"].get(e, {}).get("points", 0) for e in exercises),
                         result["total"], result["max_total"], len(result["notes"]),
                         " ".join(e for e in exercises if result["exercises"].get(e, {}).get("review"))])
    atomic_write(out, buf.getvalue())
