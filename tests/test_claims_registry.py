"""No claim escapes the margins runner (issue 29).

An outcome a notebook asserts about a model, an optimisation or a training must hold on every CPU, thread count
and seed, so it must be *measured* there: in a notebook it is written ``claim(name, value, op, threshold)``
(``vizlab.claims``), which ``benchmarks/margins.py --notebooks`` records on every instruction set and thread count
without anyone listing it; an ``assert`` that states a structural fact (a shape, a type, an identity that holds
bit for bit or to float tolerance) says so with ``# exact``. In the tests, an assert that compares a number with a
float literal by ``<``/``>`` is the usual form of a measured outcome: it names its registered claim in
``benchmarks/claims_*.py`` (``# claim: <name>``) or says ``# exact``.

The scanners read syntax trees (cells with IPython magics are read without them); each finding names the file,
cell and line.
"""
from __future__ import annotations

import ast
import importlib.util
import io
import json
import re
import tokenize
from pathlib import Path

import pytest

from vizlab.claims import OPS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
EXACT = re.compile(r"#\s*exact\b")
CLAIM_COMMENT = re.compile(r"#\s*claim:\s*(?P<name>[^;]+?)\s*(;|$)")
INEQUALITIES = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _comments(source: str) -> dict[int, str]:
    out = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string
    except (tokenize.TokenError, IndentationError):
        pass
    return out


def _statement_comments(node: ast.stmt, comments: dict[int, str]) -> str:
    return " ".join(comments.get(line, "") for line in range(node.lineno, (node.end_lineno or node.lineno) + 1))


def _code(source: str) -> str:
    """A cell's source without IPython magics and shell escapes (they are not Python)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def notebook_findings(source: str, where: str) -> list[str]:
    """Asserts that are neither ``# exact`` nor a claim, and malformed ``claim(...)`` calls, in one cell."""
    source = _code(source)
    tree = ast.parse(source)
    comments = _comments(source)
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and not EXACT.search(_statement_comments(node, comments)):
            findings.append(f"{where}, line {node.lineno}: `{ast.get_source_segment(source, node)}` is neither "
                            "claim(name, value, op, threshold) nor marked '# exact'")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "claim":
            args = node.args
            ok = (len(args) == 4 and not node.keywords and isinstance(args[0], (ast.Constant, ast.JoinedStr))
                  and (not isinstance(args[0], ast.Constant) or isinstance(args[0].value, str))
                  and isinstance(args[2], ast.Constant) and args[2].value in OPS)
            if not ok:
                findings.append(f"{where}, line {node.lineno}: claim(...) needs a literal name, the value, a "
                                f"literal operator from {sorted(OPS)} and the threshold")
    return findings


def registered_names() -> set[str]:
    names = set()
    for path in sorted((ROOT / "benchmarks").glob("claims_*.py")):
        spec = importlib.util.spec_from_file_location(f"_registry_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        names.update(c["name"] for c in module.CLAIMS)
    return names


def _float_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


def findings_in_test_file(source: str, where: str, registered: set[str]) -> list[str]:
    """Asserts in a test file that compare with a float literal by an inequality and name no claim."""
    tree = ast.parse(source)
    comments = _comments(source)
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        compares = [c for c in ast.walk(node.test) if isinstance(c, ast.Compare)
                    and any(isinstance(op, INEQUALITIES) for op in c.ops)
                    and any(_float_literal(x) for x in [c.left, *c.comparators])]
        if not compares:
            continue
        text = _statement_comments(node, comments)
        if EXACT.search(text):
            continue
        named = CLAIM_COMMENT.search(text)
        if named is None:
            findings.append(f"{where}:{node.lineno}: `{ast.get_source_segment(source, node)}` compares with a "
                            "float literal: name its claim ('# claim: <name>' of benchmarks/claims_*.py) "
                            "or mark it '# exact'")
        elif named.group("name") not in registered:
            findings.append(f"{where}:{node.lineno}: claim {named.group('name')!r} is not registered in "
                            "benchmarks/claims_*.py")
    return findings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_notebook_assert_is_a_claim_or_exact(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    findings = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            findings += notebook_findings("".join(cell["source"]), f"{path.relative_to(ROOT)} (cell {i})")
    assert not findings, "\n".join(findings)


def test_every_test_assert_on_a_measured_number_names_its_claim():
    registered = registered_names()
    findings = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        findings += findings_in_test_file(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), registered)
    assert not findings, "\n".join(findings)


def test_the_scanners_find_what_they_should():
    cell = ('%matplotlib inline\nx = 1\nassert x > 0.5\nassert x.shape == (1,)  # exact\n'
            'claim("a", x, ">", 0.5)\nclaim(name, x, ">", 0.5)\nclaim("b", x, "!=", 1)\nif x:\n    assert x\n')
    found = notebook_findings(cell, "nb")
    assert [f.split(":")[0] for f in found] == ["nb, line 3", "nb, line 6", "nb, line 7", "nb, line 9"]
    test = ('def test_a():\n    assert acc > 0.9\n    assert acc > 0.9  # claim: known\n'
            '    assert acc > 0.9  # claim: unknown\n    assert err < 1e-6  # exact\n    assert n > 3\n'
            '    assert (\n        acc\n        > -0.5\n    )\n')
    found = findings_in_test_file(test, "t.py", {"known"})
    assert [f.split(": ")[0] for f in found] == ["t.py:2", "t.py:4", "t.py:7"]
    assert "not registered" in found[1]


def test_the_registry_has_unique_names():
    names = []
    for path in sorted((ROOT / "benchmarks").glob("claims_*.py")):
        spec = importlib.util.spec_from_file_location(f"_unique_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        names += [c["name"] for c in module.CLAIMS]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_claim_returns_nothing_raises_when_false_and_logs_in_log_mode(tmp_path, monkeypatch):
    from vizlab.claims import LOG_ENV, claim

    monkeypatch.delenv(LOG_ENV, raising=False)
    # A notebook cell ending in claim(...) must print no bare number under its figure (r19 figures finding 4).
    assert claim("demo: two is more than one", 2.0, ">", 1.0) is None  # exact
    with pytest.raises(AssertionError, match="does not hold"):
        claim("demo: one is more than two", 1.0, ">", 2.0)
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    assert claim("demo: logged, not raised", 1.0, ">", 2.0) is None  # exact
    record = json.loads(log.read_text(encoding="utf-8"))
    assert record["name"] == "demo: logged, not raised" and record["holds"] is False  # exact
