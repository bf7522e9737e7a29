"""benchmarks/proxy_study.py (issue 24 item 1, round 17): the table of blind verdicts and the held-out metrics."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import proxy_study  # noqa: E402
import proxy_study_eval  # noqa: E402


def test_table_has_every_scored_class_image_and_resolves_second_viewers():
    rows = proxy_study.table()
    sets = {r["set"] for r in rows}
    # every scored class-image set is in, and nothing of the unit or dream sets
    expected = {p.parent.name for p in (ROOT / "benchmarks" / "blind24").glob("set*/scored.json")
                if not any(s in p.parent.name for s in proxy_study.NOT_CLASS_IMAGES)}
    assert {"units", "dreams"} <= set(proxy_study.NOT_CLASS_IMAGES)  # exact: those were never class images
    assert sets == expected  # exact
    assert len(rows) >= 650 and len({r["png"] for r in rows}) < len(rows)  # exact: second viewers share PNGs
    # a second viewer's verdict points at the first set's PNG of the same class
    first = {(r["set"], r["image"]): r for r in rows}
    for r in rows:
        if r["set"] == "set_r16_b_cs231n_ens_retry_ten_second_viewer":
            src = first[("set_r16_a_cs231n_ens_retry_ten", Path(r["png"]).name)]
            assert src["cls"] == r["cls"] and src["png"] == r["png"]  # exact
    # strict top-1 implies top-5 implies basic-level top-5 (the basic list contains the strict one)
    assert all((not r["top1"] or r["top5"]) and (not r["top5"] or r["basic5"]) for r in rows)  # exact
    assert set(range(7, 18)) <= {r["round"] for r in rows}  # exact: every round since 7 (later ones add sets)
    assert proxy_study.set_round("set3") == 7 and proxy_study.set_round("set_r16c_default_random20") == 16  # exact
    with pytest.raises(ValueError, match="round"):
        proxy_study.set_round("units")


def test_table_rejects_a_second_viewer_pointing_at_another_class(tmp_path):
    src = ROOT / "benchmarks" / "blind24"
    for name in ("set_r15_a_cs231n_s300_ten", "set_r15_b_cs231n_s300_ten_second_viewer"):
        (tmp_path / name).mkdir()
        for f in ("key.json", "scored.json"):
            (tmp_path / name / f).write_text((src / name / f).read_text())
    (tmp_path / "set_r15_a_cs231n_s300_ten" / "images").symlink_to(src / "set_r15_a_cs231n_s300_ten" / "images")
    assert len(proxy_study.table(tmp_path)) == 20  # exact
    scored = tmp_path / "set_r15_b_cs231n_s300_ten_second_viewer" / "scored.json"
    rows = json.loads(scored.read_text())
    rows[0]["renamed_from"], rows[1]["renamed_from"] = rows[1]["renamed_from"], rows[0]["renamed_from"]
    scored.write_text(json.dumps(rows))
    with pytest.raises(ValueError, match="different classes"):
        proxy_study.table(tmp_path)


def test_auc_cut_and_within_set_pairs():
    auc = proxy_study_eval.auc
    y = np.array([True, True, False, False])
    assert auc(np.array([4.0, 3, 2, 1]), y) == 1.0 and auc(np.array([1.0, 2, 3, 4]), y) == 0.0  # exact
    assert auc(np.array([1.0, 1, 1, 1]), y) == 0.5  # exact: ties count a half
    # the fitted cut passes exactly the named ones when a perfect cut exists
    s = np.array([0.9, 0.8, 0.3, 0.1, 0.2])
    t = np.array([True, True, False, False, False])
    assert proxy_study_eval.best_cut(s, t) == 0.8  # exact
    # when nothing beats "never named", the cut passes nothing
    assert proxy_study_eval.best_cut(np.array([0.1, 0.9, 0.5]), np.array([True, False, False])) == np.inf  # exact
    right, total = proxy_study_eval.within_set(np.array([2.0, 1, 0, 5]), np.array([True, False, True, False]),
                                               np.array(["a", "a", "b", "b"]))
    assert (right, total) == (1, 2)  # exact: set a ordered right, set b wrong
