"""Score a blind style-matching request (issue 25 item 2) made by ``blind_style_r9.py``.

Run: ``PYTHONPATH=. python benchmarks/score_blind_style.py --key benchmarks/blind25/key_r13_style.json
--answers benchmarks/blind25/answers_r13_style.md [--json benchmarks/blind25/scored_r13_style.json]``

The viewer answers one line per picture, ``imgNN: style: best, second; photo: g1; g2; g3; g4; g5``. Counted:

* **style matched**: the best style label is the one of the result's style image;
* **content named**: one of the five photo guesses names the photo, under :data:`CONTENT` (written on
  2026-12-07 02:58 UTC, before the round-13 viewer answered; matching by :func:`blind.first_hit`, plural
  and case folded). ``astronaut`` and ``grace_hopper`` are portraits of a person: a person counts as named (as
  rounds 9-10 counted), and the stricter "astronaut"/"officer in uniform" count is reported beside it.

Prints per style (of the six photos) and per photo, and every guess list that matched nothing, so a person
can check the matcher.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

PERSON = ["person", "man", "woman", "lady", "girl", "boy", "people", "portrait", "face", "human", "figure",
          "someone", "pilot", "soldier", "officer", "grandmother", "grandma", "astronaut", "sailor"]

#: ``photo: (named, strict)``: phrases that count as naming the photo; ``strict`` is the narrower reading.
CONTENT = {
    "cat": (["cat", "kitten", "kitty", "feline"], ["cat", "kitten", "kitty", "feline"]),
    "espresso": (["cup", "coffee", "espresso", "mug", "latte", "cappuccino", "saucer", "teacup", "tea"],
                 ["cup", "coffee", "espresso", "mug", "latte", "cappuccino", "teacup"]),
    "motorcycle": (["motorcycle", "motorbike", "motor bike", "moped", "scooter", "dirt bike"],
                   ["motorcycle", "motorbike", "motor bike", "moped", "scooter", "dirt bike"]),
    "astronaut": (PERSON + ["spacesuit", "space suit", "cosmonaut"],
                  ["astronaut", "spacesuit", "space suit", "cosmonaut"]),
    "temple": (["temple", "pagoda", "shrine", "palace", "pavilion", "tower", "monastery"],
               ["temple", "pagoda", "shrine", "palace", "pavilion"]),
    "grace_hopper": (PERSON + ["admiral", "navy", "uniform"],
                     ["officer", "uniform", "admiral", "navy", "military", "sailor", "soldier"]),
}


def read_answers(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """``{"img07.png": ([best, second style labels], [five photo guesses])}``."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*\**\s*(img\d+)(?:\.png)?\**\s*:\s*(?:style\s*:\s*)?(.*?);\s*photo\s*:\s*(.*)", line, re.I)
        if m:
            labels = re.findall(r"S\d", m.group(2).upper())
            guesses = [g.strip(" .*") for g in re.split(r";", m.group(3)) if g.strip(" .*")]
            out[f"{m.group(1)}.png"] = (labels, guesses)
    return out


def main() -> None:
    from blind import first_hit   # benchmarks/ is the script's folder: on the path

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--key", required=True)
    p.add_argument("--answers", required=True)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    key = json.loads(Path(args.key).read_text())
    answers = read_answers(Path(args.answers))
    rows = []
    for name, info in sorted(key["images"].items()):
        labels, guesses = answers.get(name, ([], []))
        named, strict = CONTENT[info["photo"]]
        rows.append(dict(image=name, style=info["style"], photo=info["photo"], label=info["label"],
                         answered=labels[:2], style_match=bool(labels) and labels[0] == info["label"],
                         named_at=first_hit(guesses, named), strict_at=first_hit(guesses, strict), guesses=guesses,
                         missing=name not in answers))
    n = len(rows)
    print(f"answered {sum(not r['missing'] for r in rows)} of {n}")
    print(f"style matched (best label): {sum(r['style_match'] for r in rows)} of {n}; "
          f"in best two: {sum(r['label'] in r['answered'] for r in rows)} of {n}")
    print(f"content named within five: {sum(r['named_at'] is not None for r in rows)} of {n} "
          f"(strict {sum(r['strict_at'] is not None for r in rows)}; first guess "
          f"{sum(r['named_at'] == 1 for r in rows)})")
    for group in ("style", "photo"):
        for value in dict.fromkeys(r[group] for r in rows):
            sub = [r for r in rows if r[group] == value]
            print(f"  {group} {value:13s} style {sum(r['style_match'] for r in sub)}/{len(sub)}, named "
                  f"{sum(r['named_at'] is not None for r in sub)}/{len(sub)} (strict "
                  f"{sum(r['strict_at'] is not None for r in sub)}/{len(sub)})")
    for r in rows:
        if r["named_at"] is None or not r["style_match"]:
            print(f"  miss: {r['image']} {r['style']} x {r['photo']}: styles {r['answered']} (key {r['label']}); "
                  f"{'; '.join(r['guesses'])}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
