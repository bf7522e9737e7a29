"""Round 20: three holes round 19 left in the sandbox's harness, each as a hostile notebook graded end to end
(``grade()``, the sandbox, gram and tv), with honest notebooks beside them.

1. ``json_value``: the values of the case frames were encoded (``json``, torch) *after* the watch ended, with
   functions a notebook can replace: a replaced ``json.dumps`` put in the value a looping helper computed, unseen.
2. ``early_cases``: a cell wrote the "ready" byte itself, read the exercises' cases (hidden ones included) before
   the cells had ended, put them back for the harness, and tabulated the answers with a loop at top level
   (``early_cases_fdopen``: put back through a replaced ``os.fdopen``; ``unpickle_hook``: the same table made by a
   replaced ``torch._utils._rebuild_tensor_v2``, which the harness ran, unwatched, when it unpacked the cases).
3. ``mem_token``: a graded call read the harness's token from ``/proc/self/mem`` and wrote a report of its own
   with it (nothing ran), then ended the process before the harness wrote the real one (under ``unshare``; bwrap's
   sandbox had no ``/proc/self``). ``format_token``: the same token read through a traceback and a format string
   that walks to the harness's closure: this one the sandbox cannot stop; the source rules now send it to review.

Each of these scored points before this round (see the round-20 section of ``benchmarks/README.md``); each test
asserts it does not any more. The honest notebooks score full marks.
"""
from __future__ import annotations

import shutil

import pytest

from vizlab.exercises import catalog, rules
from vizlab.exercises.grading import Limits

from test_grading import GRAM, IMPORTS, TV, notebook
from test_grading_attacks import graded_and_removed, root_dir
from test_grading_deny import LOOPS_TV, points, problems

EXERCISES = ["gram", "tv"]
LIMITS = Limits(timeout=60, call_timeout=20, memory_mb=1536, file_bytes=2 * 2**20)
N_TV = len(catalog.get("tv").cases(hidden=True))
# the looping answer, reached from the graded function only through a value (or not at all): its loops count only
# when the harness reports that it ran during a graded call
IMPL = LOOPS_TV.replace("def tv_loss", "def _impl")

# hole 1: a replaced json.dumps rewrites tv's case frames with the value the looping helper computes from the
# inputs the graded call kept aside; the graded call itself returns 0.0 and runs no loop
JSON_VALUE = ("import json\n_dumps = json.dumps\nSTASH = []\nH = {'f': _impl}\n"
              "def _patched(obj, *args, **kwargs):\n"
              "    if isinstance(obj, dict) and obj.get('kind') == 'case' and obj.get('exercise') == 'tv' and STASH:\n"
              "        img, weight = STASH.pop()\n"
              "        obj = dict(obj, value=float(H['f'](img, weight)))\n"
              "    return _dumps(obj, *args, **kwargs)\n"
              "json.dumps = _patched")
STASH_TV = "def tv_loss(img, weight=1.0):\n    STASH.append((img, weight))\n    return 0.0"

# hole 2: the ready pipe and the cases pipe are the notebook's own file descriptors: the cases pipe is the one pipe
# open for reading, the ready pipe the pipe open for writing made just before it (the next lower pipe inode)
EARLY_CASES = (
    "import os, stat, fcntl, _pickle\n"
    "def _mode(fd):\n    try:\n        st = os.fstat(fd)\n    except OSError:\n        return None, 0\n"
    "    if not stat.S_ISFIFO(st.st_mode):\n        return None, 0\n"
    "    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE, st.st_ino\n"
    "FDS = {fd: _mode(fd) for fd in range(3, 256)}\n"
    "CASES_FD = max(fd for fd, (mode, ino) in FDS.items() if mode == os.O_RDONLY)\n"
    "LOG = os.fstat(1).st_ino\n"
    "WRITERS = [(ino, fd) for fd, (mode, ino) in FDS.items() if mode == os.O_WRONLY and ino != LOG\n"
    "           and ino < FDS[CASES_FD][1]]\n"
    "READY_FD = max(WRITERS)[1]\n"
    "os.write(READY_FD, b'R')\n"
    "def _exactly(fd, n):\n    out = b''\n    while len(out) < n:\n        chunk = os.read(fd, n - len(out))\n"
    "        if not chunk:\n            break\n        out += chunk\n    return out\n"
    "HEAD = _exactly(CASES_FD, 8)\nDATA = _exactly(CASES_FD, int.from_bytes(HEAD, 'big'))\n"
    "SPECS = _pickle.loads(DATA)\n")
# ... then the harness must still find the cases: in a file put where its pipe was, or handed by a replaced os.fdopen
# (the pipe itself stays as it was)
PUT_BACK = ("KEEP = os.open('cases.bin', os.O_RDWR | os.O_CREAT, 0o600)\n"
            "os.write(KEEP, HEAD + DATA)\nos.lseek(KEEP, 0, os.SEEK_SET)\nos.dup2(KEEP, CASES_FD)")
HAND_BACK = ("import io\n_fdopen = os.fdopen\n"
             "def _handed(fd, *args, **kwargs):\n"
             "    return io.BytesIO(HEAD + DATA) if fd == CASES_FD else _fdopen(fd, *args, **kwargs)\n"
             "os.fdopen = _handed")
TABLE = ("def _key(img, weight=1.0):\n    return img.detach().numpy().tobytes(), float(weight)\n"
         "ANSWERS = {}\n"
         "for spec in SPECS:\n    if spec['name'] == 'tv':\n        for args, kwargs in spec['cases']:\n"
         "            ANSWERS[_key(*args, **kwargs)] = float(_impl(*args, **kwargs))")
TABLE_TV = "def tv_loss(img, weight=1.0):\n    return ANSWERS[_key(img, weight)]"

# hole 2 without touching the pipes: torch rebuilds each tensor of the cases with a function it finds by name, after
# the cells; the notebook's replacement sees every input (hidden ones included) and tabulates the looping answer
UNPICKLE_HOOK = ("import torch\n_rebuild = torch._utils._rebuild_tensor_v2\nSEEN = {}\n"
                 "def _key(img):\n    return img.detach().numpy().tobytes()\n"
                 "def _hooked(*args, **kwargs):\n    t = _rebuild(*args, **kwargs)\n"
                 "    if t.dim() == 4 and t.dtype == torch.float32:\n        SEEN[_key(t)] = float(_impl(t, 1.0))\n"
                 "    return t\n"
                 "torch._utils._rebuild_tensor_v2 = _hooked")
HOOK_TV = "def tv_loss(img, weight=1.0):\n    return weight * SEEN[_key(img)]"

# hole 3: the harness's token, read from the process's memory (every report the harness wrote is formatted there
# first); then the report of every tv case saying nothing ran, case 0's value, and the end of the process
# a str object of 32 characters (CPython 3.11, 64 bits: length, hash, state, no wstr) holding 32 hex digits
PATTERN = rb"(?s)\x20\x00{7}.{16}\x00{8}([0-9a-f]{32})\x00"
MEM_TOKEN = (
    f"import os, re, json, struct, stat, fcntl\nPATTERN = {PATTERN!r}\n"
    "def _scan():\n    found = {}\n    pattern = re.compile(PATTERN)\n"
    "    with open('/proc/self/maps') as maps:\n        lines = maps.read().splitlines()\n"
    "    with open('/proc/self/mem', 'rb', 0) as mem:\n        for line in lines:\n"
    "            where, perms = line.split()[:2]\n"
    "            low, high = (int(x, 16) for x in where.split('-'))\n"
    "            if not perms.startswith('rw') or high - low > 512 * 2**20:\n                continue\n"
    "            try:\n                mem.seek(low)\n                chunk = mem.read(high - low)\n"
    "            except (OSError, ValueError, OverflowError):\n                continue\n"
    "            for token in pattern.findall(chunk):\n                found[token] = found.get(token, 0) + 1\n"
    "    return max(found, key=found.get).decode() if found else 'none'\n"
    "def _results_fds():\n    out = []\n    for fd in range(3, 256):\n        try:\n"
    "            st = os.fstat(fd)\n        except OSError:\n            continue\n"
    "        if stat.S_ISFIFO(st.st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
    "            out.append(fd)\n    return out\n"
    "def _frame(record, blob=b''):\n    data = json.dumps(record).encode()\n"
    "    return b'VZ1' + struct.pack('>II', len(data), len(blob)) + data + blob\n"
    "def _forge(value, n, token=None):\n    token = token or _scan()\n"
    "    ran = [_frame({'kind': 'ran', 'exercise': 'tv', 'case': i, 'codes': [], 'whole': 1, 'hit': '',"
    " 'token': token}) for i in range(n)]\n"
    "    raw = value.numpy().tobytes()\n"
    "    case = _frame({'kind': 'case', 'exercise': 'tv', 'case': 0, 'value': {'__t__': ['float32',"
    " list(value.shape), 0, len(raw)]}, 'error': None, 'seconds': 0.1, 'forbidden': [], 'loops': []}, raw)\n"
    "    data = ran[0] + case + b''.join(ran[1:])\n"
    "    for fd in _results_fds():\n        os.write(fd, data)\n"
    "    os._exit(0)\n"
    "H = {'f': _impl, 'forge': _forge}")
MEM_TV = ("def tv_loss(img, weight=1.0):\n    value = H['f'](img, weight).detach().float()\n"
          f"    H['forge'](value, {N_TV})")

# hole 3 without /proc: the harness's frame through a traceback, its closure through a format string (str.format
# walks the attributes and items its template names); then the same forged report
FORMAT_TOKEN = (
    "import re\ntry:\n    raise ValueError('x')\nexcept ValueError as e:\n    TB = e.__traceback__\n"
    "TOKEN = None\nfor i in range(32):\n    try:\n"
    "        text = ('{0.tb_frame.f_back.f_locals[report].__closure__[' + str(i) + '].cell_contents}').format(TB)\n"
    "    except Exception:\n        break\n"
    "    if re.fullmatch('[0-9a-f]{32}', text):\n        TOKEN = text")
FORMAT_TV = ("def tv_loss(img, weight=1.0):\n    value = H['f'](img, weight).detach().float()\n"
             f"    H['forge'](value, {N_TV}, TOKEN)")

# r20-review2's finding 1: the token read through logging's "{" style (str.format on the LogRecord, no .format in
# the source), the cases read at cell time through np.load(**{'allow_pickle': True}); then every frame forged, a
# "done" among them, and the process ended with code 0: full marks for a tv_loss that returns 0, before this fix
LOG_TOKEN = (
    "import io, re, logging\nTOKEN = None\n"
    "for i in range(32):\n"
    "    out = io.StringIO()\n"
    "    logging.basicConfig(stream=out, style='{', force=True,\n"
    "        format='{exc_info[2].tb_frame.f_back.f_locals[report].__closure__[' + str(i) + '].cell_contents}')\n"
    "    try:\n        raise ValueError('x')\n    except ValueError:\n        logging.exception('x')\n"
    "    first = out.getvalue().split('\\n')[0]\n"
    "    if re.fullmatch('[0-9a-f]{32}', first):\n        TOKEN = first\n"
    "logging.basicConfig(force=True)")
EARLY_NP = (EARLY_CASES.replace("import os, stat, fcntl, _pickle", "import os, stat, fcntl, io, numpy as np")
            .replace("SPECS = _pickle.loads(DATA)", "SPECS = np.load(io.BytesIO(DATA), **{'allow_pickle': True})"))
WRONG_TV = "def tv_loss(img, weight=1.0):\n    return weight * (img - img).sum()"
FORGE_ALL = (
    "import torch\n"
    "def _val(v):\n    t = torch.as_tensor(v).detach().float().contiguous()\n    raw = t.numpy().tobytes()\n"
    "    return {'__t__': ['float32', list(t.shape), 0, len(raw)]}, raw\n"
    "OUT = b''\n"
    "for spec in SPECS:\n"
    "    fn = {'gram': gram_matrix, 'tv': _impl}[spec['name']]\n"
    "    OUT += _frame({'kind': 'function', 'exercise': spec['name'], 'source': None, 'loops': []})\n"
    "    for i, (args, kwargs) in enumerate(spec['cases']):\n"
    "        value, raw = _val(fn(*args, **kwargs))\n"
    "        OUT += _frame({'kind': 'ran', 'exercise': spec['name'], 'case': i, 'codes': [], 'whole': 1, 'hit': '',"
    " 'token': TOKEN})\n"
    "        OUT += _frame({'kind': 'case', 'exercise': spec['name'], 'case': i, 'value': value, 'error': None,"
    " 'seconds': 0.01, 'forbidden': [], 'loops': []}, raw)\n"
    "OUT += _frame({'kind': 'done'})\n"
    "TARGETS = [fd for fd in _results_fds() if fd != READY_FD and os.fstat(fd).st_ino != LOG]\n"
    "for fd in TARGETS:\n    os.write(fd, OUT)\n"
    "os._exit(0)")

# what a notebook sees of the sandbox: /proc, whether /tmp runs programs, whether a program can be started, whether
# it holds a capability (chroot needs CAP_SYS_CHROOT, which root of a user namespace has unless it dropped it)
PROBE = ("import os\nseen = sorted(os.listdir('/proc'))\n"
         "noexec = bool(os.statvfs('/tmp').f_flag & os.ST_NOEXEC)\n"
         "try:\n    os.posix_spawn('/bin/true', ['true'], {})\n    spawn = 'started'\n"
         "except PermissionError:\n    spawn = 'refused'\n"
         "try:\n    os.chroot('.')\n    chroot = 'done'\nexcept PermissionError:\n    chroot = 'refused'\n"
         "raise ValueError(f'PROBE proc={seen} noexec={noexec} spawn={spawn} chroot={chroot}')")

# a bound .format of a constant template passed to map, a constant template bound to a name, a template that
# names an attribute and an index
HONEST_FORMAT = ("print(', '.join(map('{:.3f}'.format, [0.1, 0.25])))\n"
                 "LINE = 'step {}: loss {:.3f}'\nfor s in range(2):\n    print(LINE.format(s, 0.5))\n"
                 "x = torch.zeros(1, 3, 4, 4)\nprint('{0.shape} {1[0]}'.format(x, [1]))")

SUBMISSIONS = {
    "json_value": notebook(IMPORTS, GRAM, IMPL, JSON_VALUE, STASH_TV),
    "early_cases": notebook(IMPORTS, GRAM, IMPL, EARLY_CASES + PUT_BACK, TABLE, TABLE_TV),
    "early_cases_fdopen": notebook(IMPORTS, GRAM, IMPL, EARLY_CASES + HAND_BACK, TABLE, TABLE_TV),
    "unpickle_hook": notebook(IMPORTS, GRAM, IMPL, UNPICKLE_HOOK, HOOK_TV),
    "mem_token": notebook(IMPORTS, GRAM, IMPL, MEM_TOKEN, MEM_TV),
    "format_token": notebook(IMPORTS, GRAM, IMPL, MEM_TOKEN, FORMAT_TOKEN, FORMAT_TV),
    "probe": notebook(IMPORTS, GRAM, TV, PROBE),
    # r20-review2's finding 5: a cell that starts a program (a GPU check, say) is refused with the rule's name
    "honest_program": notebook(IMPORTS, GRAM, TV, "import subprocess\nsubprocess.run(['true'])"),
    "full_forge": notebook(IMPORTS, GRAM, IMPL, WRONG_TV, MEM_TOKEN, LOG_TOKEN, EARLY_NP, FORGE_ALL),
    # controls: honest answers, also one that uses json, os and a pipe of its own in the ordinary way
    "honest": notebook(IMPORTS, GRAM, TV),
    "honest_io": notebook(IMPORTS, "import json, os\nr, w = os.pipe()\nos.write(w, json.dumps([1, 2]).encode())\n"
                          "os.close(w)\nSEEN = json.loads(os.read(r, 100))\nos.close(r)", GRAM, TV),
    # torchvision (a dependency) loads its operators with ctypes, which the sandbox refuses: the harness imports it
    # before the refusal starts (r20-review2's finding 2: the import failed in every graded notebook)
    "honest_torchvision": notebook("import torch\nfrom torchvision import transforms\nimport vizlab\n"
                                   "import vizlab.attribution", GRAM,
                                   TV.replace("def tv_loss", "NORM = transforms.Normalize([0.5] * 3, [0.5] * 3)\n"
                                              "def tv_loss")),
    # ordinary .format code (r20-review2's finding 3: each sent the notebook to review)
    "honest_format": notebook(IMPORTS, GRAM, TV, HONEST_FORMAT),
}


@pytest.fixture(scope="module", params=["bwrap", "unshare"])
def graded(request, monkeypatch_module):
    """Every notebook graded under each backend this machine has (round 19 tested under unshare only: bwrap was
    not installed; hole 3 was open under unshare, whose sandbox mounted a fresh /proc)."""
    if shutil.which(request.param) is None:
        pytest.skip(f"{request.param} is not installed")
    monkeypatch_module.setenv("VIZLAB_SANDBOX", request.param)
    root = root_dir()
    (root / "subs").mkdir()
    for name, text in SUBMISSIONS.items():
        (root / "subs" / f"{name}.ipynb").write_text(text)
    yield from graded_and_removed(root, EXERCISES, LIMITS)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("student", ["honest", "honest_io", "honest_torchvision", "honest_format"])
def test_honest_notebooks_score_full_marks(graded, student):
    results, _ = graded
    result = results[student]
    for name in EXERCISES:
        assert points(result, name) == 2 and not result["exercises"][name]["review"], problems(result, name)
    assert not result["notes"], result["notes"]


def test_hole_1_a_replaced_json_dumps_cannot_change_a_value(graded):
    results, _ = graded
    result = results["json_value"]
    assert points(result, "tv") == 0, problems(result, "tv")
    # the replaced function ran while the value was encoded, inside the watch: its helper's loops are charged
    assert "must not use Python loops" in problems(result, "tv") and "in _impl" in problems(result, "tv")
    assert points(result, "gram") == 2, problems(result, "gram")


@pytest.mark.parametrize("student, says", [
    # the harness finds another file where its cases pipe was, and ends without asking
    ("early_cases", "asked for the exercises' cases itself before its cells had ended, or put pipes or files"),
    # init sees the harness's request come second
    ("early_cases_fdopen", "asked for the exercises' cases itself before its cells had ended (2 requests;"),
    # the notebook's code ran while the harness unpacked the cases
    ("unpickle_hook", "ran code of its own while the grader unpacked the exercises' cases"),
])
def test_hole_2_cases_seen_before_the_calls_void_the_notebook(graded, student, says):
    results, _ = graded
    result = results[student]
    assert points(result, "tv") == 0 and points(result, "gram") == 0, problems(result, "tv")
    assert says in problems(result, "tv"), problems(result, "tv")


def test_hole_3_the_token_is_not_in_reach_of_the_notebook(graded):
    results, _ = graded
    result = results["mem_token"]
    assert points(result, "tv") == 0, problems(result, "tv")
    assert points(result, "gram") == 2, problems(result, "gram")


def test_hole_3_a_format_string_that_walks_to_the_harness_needs_review(graded):
    results, _ = graded
    result = results["format_token"]
    assert points(result, "tv") == 0 and result["exercises"]["tv"]["review"], problems(result, "tv")
    assert ".__traceback__" in problems(result, "tv") and "formats a template it computed" in problems(result, "tv")


def test_finding_1_a_whole_forged_run_is_denied_or_reviewed(graded):
    """The notebook reads the token and the cases without a name the judge knew; its forged run scored 4/4 with no
    review and no notes. The judge now sees the trick names inside its template, the '{' style and the
    **mapping given to np.load."""
    results, _ = graded
    result = results["full_forge"]
    for name in EXERCISES:
        exercise = result["exercises"][name]
        assert points(result, name) == 0 and exercise["review"], problems(result, name)
    found = " / ".join(judged("full_forge").review)  # (the result names the first three reasons)
    assert "'cell_contents' inside a string" in found and "logging style other than '%'" in found, found
    assert "load() options it computed" in found, found


def test_finding_5_a_cell_that_starts_a_program_is_told_the_rule(graded):
    results, _ = graded
    result = results["honest_program"]
    assert points(result, "tv") == 2 and points(result, "gram") == 2, result["notes"]
    assert len(result["notes"]) == 1 and "starting programs (subprocess, os.system" in result["notes"][0] \
        and "is not allowed in graded notebooks" in result["notes"][0], result["notes"]


def judged(name: str) -> rules.SourceRules:
    import nbformat

    cells = [(i, c.source) for i, c in enumerate(nbformat.reads(SUBMISSIONS[name], 4).cells)]
    return rules.judge_source(cells, ["gram_matrix", "tv_loss"])


@pytest.mark.parametrize("name", ["json_value", "mem_token", "unpickle_hook"])
def test_the_attacks_closed_in_the_sandbox_pass_the_source_judge(name):
    """They need no review: the sandbox, not the source rules, stops them (the notebooks of hole 2 and the format
    string passed round 19's judge too, see the table in benchmarks/README.md; this round's rules send their
    ``_pickle``, ``__traceback__`` and computed template to review as well)."""
    rules_of = judged(name)
    assert rules_of.review == [] and "tv_loss" in rules_of.plain, (name, rules_of.review)
    assert rules_of.direct_loops["tv_loss"] == [], (name, rules_of.direct_loops)


@pytest.mark.parametrize("source, says", [
    ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    tb = e.__traceback__", ".__traceback__"),
    ("import sys\ntb = sys.exc_info()[2]", ".exc_info"),
    ("class C:\n    def __exit__(self, kind, value, tb):\n        self.t = ('{0.' + 'tb_frame}').format(tb)",
     "formats a template it computed"),
    ("x = '{0.tb_frame.f_back}'.format(tb)", "formats attributes or items named in a template"),
    ("x = '{0[report]}'.format(d)", "formats attributes or items named in a template"),
    ("f = t.format", "passes .format of a template it computed around"),
    ("LINE = '{0.tb_frame}'\nx = LINE.format(tb)", "formats attributes or items named in a template"),
    ("x = '{0.__class__}'.format(tb)", "formats attributes or items named in a template"),
    ("x = '{:{0.f_back}}'.format(tb)", "formats attributes or items named in a template"),
    ("LINE = '{}'\nLINE = t\nx = LINE.format(tb)", "formats a template it computed"),
    ("LINE = '{}'\ndef f(LINE):\n    return LINE.format(1)", "formats a template it computed"),
    ("x = str.format('{0.f_back}', tb)", "calls str.format"),
    ("import string\nget = string.Formatter().get_field", ".Formatter"),
    ("from string import Formatter", "imports string.Formatter"),
    ("g = getattr\nv = g(tb, 'tb_' + 'frame')", "passes getattr around"),
    ("from operator import attrgetter as a", "imports operator.attrgetter"),
    ("import pydoc\nm = pydoc.locate('vizlab.exercises.student')", "imports pydoc"),
    ("from unittest import mock", "imports unittest"),
    ("import _pickle", "imports _pickle"),
    ("import numpy as np\nx = np.load('f.npy', allow_pickle=True)", "unpickles a file"),
    ("import torch\nx = torch.load('f.pt', weights_only=False)", "unpickles a file"),
    # r20-review2's finding 4: the traceback, not the exception's type
    ("import sys\nkind, value, tb = sys.exc_info()", ".exc_info"),
    ("from sys import exc_info", "imports sys.exc_info"),
    # r20-review2's finding 1
    ("x = '{exc_info[2].tb_frame.f_back}'", "names 'exc_info' inside a string"),
    ("x = 'a.__closure__[' + str(0) + '].cell_contents'", "names '__closure__' inside a string"),
    ("import logging\nlogging.basicConfig(style='{', format='{message}')", "logging style other than '%'"),
    ("import logging\nlogging.basicConfig(**{'style': '{'})", "logging style other than '%'"),
    ("from logging import Formatter\nf = Formatter('{message}', None, '{')", "logging style other than '%'"),
    ("import logging.config\nlogging.config.dictConfig(c)", "uses logging's dictConfig"),
    ("import numpy as np\nx = np.load(f, **{'allow_pickle': True})", "load() options it computed"),
    ("import numpy as np\nx = np.load(f, None, True)", "load() options it computed"),
    ("import numpy as np\nx = np.load(f, allow_pickle=bool(1))", "computes allow_pickle"),
    ("import torch\nx = torch.load(f, weights_only=not 1)", "computes weights_only"),
    ("class A:\n    __array_interface__ = {'data': (4096, True), 'shape': (8,), 'typestr': '|u1'}",
     "__array_interface__"),
])
def test_reflection_that_reaches_the_harness_needs_review(source, says):
    found = rules.judge_source([(0, "import torch"), (1, TV), (2, source)], ["tv_loss"]).review
    assert any(says in reason for reason in found), found


@pytest.mark.parametrize("source", [
    "print('{} of {}'.format(1, 2))", "print('{loss:.3f}'.format(loss=0.5))", "print(f'{x.shape}')",
    "import numpy as np\nx = np.load('f.npy')", "import torch\nx = torch.load('f.pt')", "n = getattr(x, 'shape')",
    "import logging\nlogging.basicConfig(format='%(asctime)s %(message)s', style='%')",
    "import numpy as np\nx = np.load('f.npz', allow_pickle=False)", "print('we use jit while monitoring', 'NUM_C')",
    "import sys\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    print(sys.exc_info()[0], sys.exc_info()[1])",
    # r20-review2's finding 3: ordinary idioms
    "print(', '.join(map('{:.3f}'.format, [0.1, 0.25])))", "f = '{}'.format",
    "LINE = 'step {}: loss {:.3f}'\nfor s in range(2):\n    print(LINE.format(s, 0.5))",
    "x = torch.zeros(1, 3, 4, 4)\nprint('{0.shape} {1[0]}'.format(x, [1]))",
])
def test_ordinary_formatting_and_loading_need_no_review(source):
    assert rules.judge_source([(0, "import torch"), (1, TV), (2, source)], ["tv_loss"]).review == []


def test_hole_3_the_notebook_sees_no_proc_runs_nothing_it_wrote_starts_no_program_holds_no_capability(graded):
    results, _ = graded
    result = results["probe"]
    assert points(result, "tv") == 2 and points(result, "gram") == 2
    note = next(n for n in result["notes"] if "PROBE" in n)
    assert "proc=['cpuinfo', 'meminfo'] noexec=True spawn=refused chroot=refused" in note, note


def test_the_report_binds_what_it_writes_with_before_the_cells_and_carries_the_case_frame(monkeypatch):
    """Hole 1 at the unit level: the closure writes with the functions it was made with, whatever os.write and
    struct are later; the case frame goes out right after its report, as the bytes it was handed."""
    import os

    import torch

    from vizlab.exercises.protocol import encode_frame, read_frames
    from vizlab.exercises.student import _run_report

    frame = encode_frame({"kind": "case", "exercise": "tv", "case": 0, "value": torch.ones(2), "error": None,
                          "seconds": 0.0, "forbidden": [], "loops": []})
    r, w = os.pipe()
    report = _run_report(w)

    def refused(*args, **kwargs):
        raise AssertionError("the report used a function replaced after it was made")

    import builtins

    for name in ("os.write", "struct.pack", "json.dumps"):
        monkeypatch.setattr(name, refused)
    kept = {name: getattr(builtins, name) for name in ("len", "sorted", "memoryview", "int")}
    try:  # (set by hand: monkeypatch itself needs len)
        for name in kept:
            setattr(builtins, name, refused)
        report("tv", 0, {(3, 1, "<lambda>")}, True, "", frame)
        report.note("done")
    finally:
        for name, value in kept.items():
            setattr(builtins, name, value)
    monkeypatch.undo()
    os.close(w)
    with os.fdopen(r, "rb") as f:
        frames, bad = read_frames(f.read())
    assert bad == 0 and [f["kind"] for f in frames] == ["hello", "ran", "case", "done"]
    assert frames[1]["token"] == frames[0]["token"] and torch.equal(frames[2]["value"], torch.ones(2))
    assert frames[1]["codes"] == [[3, 1, "<lambda>"]]
