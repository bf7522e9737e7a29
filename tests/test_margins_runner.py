"""benchmarks/margins.py: the records it writes and the table it builds from them (issue 29).

The runner's numbers come from claims that take minutes; these tests feed it small made-up claims and records,
so they check its bookkeeping (worst case, margin, the instruction-set move, the seeds a costly claim runs) and
nothing about torch."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _margins():
    spec = importlib.util.spec_from_file_location("_margins_under_test", ROOT / "benchmarks" / "margins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(value, seed, threads, isa, name="c", op=">", threshold=1.0):
    return dict(kind="registry", module="claims_x", claim=name, where="tests/x.py", op=op, threshold=threshold,
                seed=seed, threads=threads, isa=isa, value=value)


def test_table_reports_the_worst_run_its_setting_and_the_move_between_instruction_sets():
    m = _margins()
    rows = [_row(2.0, 0, 1, "default"), _row(1.5, 0, 1, "avx512"), _row(1.9, 1, 2, "default"),
            _row(1.9, 1, 2, "avx512")]
    text, flagged = m.table(rows)
    line = text.splitlines()[2]
    assert "| 1.5 | seed 0, 1 thr., avx512 |" in line
    assert "+50%" in line  # (1.5 - 1) / 1
    assert "4 = seeds 0-1 x thr. 1/2 x default/avx512" in line
    assert "28.6% (avx512 1.5 vs default 2; seed 0, 1 thr.)" in line  # 0.5 / mean(2, 1.5)
    assert flagged == 0


def test_table_flags_a_small_margin_a_lower_is_better_claim_and_a_run_without_value():
    m = _margins()
    small = [_row(0.95, 0, 1, "default", name="low", op="<", threshold=1.0),
             _row(0.5, 0, 1, "avx2", name="low", op="<", threshold=1.0)]
    text, flagged = m.table(small)
    assert "| 0.95 | seed 0, 1 thr., default |" in text and "**(< 10 %)**" in text and flagged == 1
    broken = [_row(3.0, 0, 1, "default"), _row(None, 1, 1, "default")]
    text, flagged = m.table(broken)
    assert "1 run(s) without a value" in text and flagged == 1
    text, flagged = m.table([_row(2.0, 0, 1, "default"), _row(2.0, 0, 1, "avx2")])
    assert "none (bit for bit)" in text and flagged == 0


def test_child_runs_every_seed_of_a_cheap_claim_and_three_of_a_costly_one(tmp_path, capsys):
    m = _margins()
    module = tmp_path / "claims_fake.py"
    module.write_text(
        "import time\n"
        "def cheap(seed):\n    return float(seed)\n"
        "def costly(seed):\n    t = time.process_time()\n    while time.process_time() - t < 0.05:\n        pass\n"
        "    return 1.0 + seed\n"
        "def broken(seed):\n    raise RuntimeError('no')\n"
        "CLAIMS = [dict(name='cheap', run=cheap, threshold=0.0), dict(name='costly', run=costly, threshold=0.0),\n"
        "          dict(name='broken', run=broken, threshold=0.0)]\n")
    m._child(str(module), ["cheap", "costly", "broken"], [0, 1, 2, 3, 4], costly=0.01)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    runs = {}
    for line in lines:
        if "seed" in line and "value" in line:
            runs.setdefault(line["name"], []).append((line["seed"], line["value"]))
    assert runs["cheap"] == [(s, float(s)) for s in range(5)]  # well under 0.01 CPU s: all five seeds
    assert [s for s, _ in runs["costly"]] == [0, 1, 2]
    assert any(line.get("costly") and line["name"] == "costly" for line in lines)
    assert runs["broken"][0] == (0, None) and len(runs["broken"]) == 5


def test_records_round_trip_through_a_file(tmp_path):
    m = _margins()
    path = tmp_path / "runs.jsonl"
    for row in [_row(2.0, 0, 1, "default"), _row(1.2, 1, 1, "avx2")]:
        m._record(str(path), row)
    rows = m.load_records([str(path)])
    assert [r["value"] for r in rows] == [2.0, 1.2]
    assert "| 1.2 | seed 1, 1 thr., avx2 |" in m.table(rows)[0]


def test_coverage_lists_the_claims_lacking_a_setting_a_failed_one_and_stale_records():
    m = _margins()
    registered = [("claims_x", dict(name="full", threshold=1.0)), ("claims_x", dict(name="half", threshold=1.0)),
                  ("claims_y", dict(name="none", threshold=1.0, profile="lecture")),
                  ("claims_y", dict(name="broken", threshold=1.0))]
    rows = [_row(2.0, s, t, i, name="full") for s in (0, 1) for t in (1, 2) for i in ("default", "avx2")]
    rows += [_row(2.0, s, 1, i, name="half") for s in range(5) for i in ("default", "avx2")]
    rows += [_row(None if (t, i) == (2, "avx2") else 2.0, s, t, i, name="broken")  # fails on 2 thr. avx2
             for s in (0, 1) for t in (1, 2) for i in ("default", "avx2")]
    rows += [_row(2.0, 0, 1, "default", name="old name")]
    rows += [dict(_row(2.0, None, 1, "default", name="half"), kind="notebook")]  # notebook rows do not count
    text, lacking = m.coverage(rows, registered, [1, 2], ["default", "avx2"])
    lines = text.splitlines()
    assert lines[0].startswith("1 of 4 registered claims have a run with a value on every one of 4 settings")
    assert lacking == 3
    assert "claims_x: half [quick]: missing 2 thr. default, 2 thr. avx2; has 10 run(s), seeds 0-4" in text
    assert "claims_y: none [lecture]: missing 1 thr. default, 1 thr. avx2, 2 thr. default, 2 thr. avx2; no runs" in text
    assert "claims_y: broken [quick]: no value on 2 thr. avx2" in text
    assert not any("claims_x: full" in line for line in lines)
    assert "1 claim name(s) in the records are not registered (renamed or removed): old name" in text
    text, lacking = m.coverage(rows, registered[:1], [1], ["default"])
    assert lacking == 0 and text.startswith("1 of 1 registered claims") and text.splitlines()[0].endswith(".")
    # A selection (-k) with every registered name known: the other claims' records are not "stale".
    text, _ = m.coverage(rows, registered[:1], [1], ["default"], known={c["name"] for _, c in registered})
    assert "not registered" in text and "half" not in text.split("not registered")[1]
    assert "old name" in text


def test_records_are_judged_by_the_registered_threshold_of_today():
    m = _margins()
    rows = [_row(0.61, 0, 1, "default", name="moved", threshold=0.6), _row(0.61, 0, 1, "default", name="kept"),
            dict(_row(0.61, None, 1, "default", name="moved", threshold=0.6), kind="notebook")]
    registered = {"moved": dict(name="moved", threshold=0.5), "kept": dict(name="kept", threshold=1.0)}
    out, changed = m.rejudge(rows, registered)
    assert changed == ["moved"]
    assert (out[0]["threshold"], out[0]["recorded_threshold"]) == (0.5, 0.6) and rows[0]["threshold"] == 0.6
    assert out[1] == rows[1] and out[2] == rows[2]  # unchanged claim; a notebook's own record keeps its threshold
    assert "+22%" in m.table(out[:1])[0] and "**(< 10 %)**" in m.table(rows[:1])[0]  # (0.61 - 0.5) / 0.5


def test_a_registered_claim_can_state_an_inclusive_bound_and_its_records_are_rejudged_by_it():
    import pytest
    m = _margins()
    assert m.claim_op(dict(name="a", threshold=1)) == ">"
    assert m.claim_op(dict(name="a", threshold=1, higher_is_better=False)) == "<"
    assert m.claim_op(dict(name="a", threshold=1, higher_is_better=False, op="<=")) == "<="
    for bad in (dict(higher_is_better=False, op=">="), dict(higher_is_better=False, op="=="),
                dict(higher_is_better=True, op="<")):
        with pytest.raises(ValueError, match="op must be"):
            m.claim_op(dict(name="r", threshold=100, **bad))
    # a record run when the claim was registered as "<" is judged as "<=" now (nb08's integer rank <= 100)
    rows = [_row(67, 0, 1, "default", name="rank", op="<", threshold=100)]
    out, changed = m.rejudge(rows, {"rank": dict(name="rank", threshold=100, higher_is_better=False, op="<=")})
    assert changed == ["rank"] and out[0]["op"] == "<=" and "| <= 100 |" in m.table(out)[0]


def test_every_registered_claim_states_a_valid_op():
    m = _margins()
    ops = {c["name"]: m.claim_op(c) for path in m.claim_modules() for c in m.load_claims(path)}
    assert ops["style_default_third_rank_max"] == "<="  # nb08: claim(..., ranks[2], "<=", 100)
