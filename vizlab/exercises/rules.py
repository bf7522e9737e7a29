"""Grading rules that do not depend on the values returned, all decided on the trusted side.

* :data:`GENERIC_MODULES`: the only parts of vizlab a graded function may run (deny by default). While the
  sandbox calls a graded function, any other vizlab code that runs, at any depth (a class or helper behind a
  reference, a duplicate implementation, a module imported afresh or reloaded), voids that call
  (``LibraryCallRefused``: no points for the exercise, with a note); see :mod:`vizlab.exercises.student`.
* :func:`forbidden_calls`: the library functions that implement an exercise's technique (derived by tracing the
  reference). Inside the sandbox they are made unavailable before the notebook runs (calling one raises
  ``LibraryCallRefused``), also in the notebook's own cells.
* :func:`judge_source`: the notebook's source, read as text outside the student's process: the no-loops rule's
  source part (the loops in the defs a graded function reaches, and, for every code object a cell makes, the loops
  of its own body, which the grader charges when the sandbox reports that code ran: see
  :mod:`vizlab.exercises.grading`), and "needs review" for code that evaluates text, reaches frames, tracers or
  code objects, imports the grading harness, or compiles with TorchScript (such code could change what the grader
  sees; it is never given full marks automatically).
* :func:`_cases_blob`: what the sandbox is handed after the cells ran (the cases, built here).
"""
from __future__ import annotations

import ast
import pickle
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import catalog
from .student import magic_line_code

# The generic helpers of vizlab that a graded function may use (capture activations, load models and images, the
# toy models the cases are built from, devices, argument checks). Every other part of vizlab is the library's
# own implementation of some technique: deny by default (the exercises package is the harness itself).
GENERIC_MODULES = ("vizlab", "vizlab.hooks", "vizlab.models", "vizlab.images", "vizlab.toy", "vizlab.device",
                   "vizlab.profiles", "vizlab._validate")
_GENERIC = set(GENERIC_MODULES)
_FORBIDDEN: dict[str, list[tuple[str, str]]] = {}


def forbidden_calls(name: str) -> list[tuple[str, str]]:
    """``(file, qualified name)`` of the library functions that implement exercise ``name``'s technique.

    Derived, not listed: the exercise's reference runs once under a tracer, and every vizlab function it calls
    (outside the exercises package and the generic helpers: hooks, models, images, toy, device) is the library's
    implementation of what the student must write. A reference that is plain tensor code (CAM) forbids nothing.
    """
    if name in _FORBIDDEN:
        return _FORBIDDEN[name]
    ex = catalog.get(name)
    found: dict[tuple[str, str], None] = {}

    def module_of(frame) -> str:
        return str(frame.f_globals.get("__name__", ""))

    def tracer(frame, event, arg):
        mod = module_of(frame)
        if mod.startswith("vizlab.") and not mod.startswith("vizlab.exercises") and mod not in _GENERIC:
            caller = frame.f_back
            while caller is not None and not module_of(caller).startswith("vizlab"):
                caller = caller.f_back  # through decorators and torch wrappers
            if caller is not None and module_of(caller).startswith("vizlab.exercises"):
                code = frame.f_code
                if code.co_name != "<module>":  # importing a module is not calling it
                    found[(code.co_filename, getattr(code, "co_qualname", code.co_name))] = None
        return None

    case = ex.cases(hidden=False)[0]
    args, kwargs = case.make()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        ex.reference(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a reference that fails here forbids what it reached
        pass
    finally:
        sys.settrace(previous)
    _FORBIDDEN[name] = list(found)
    return _FORBIDDEN[name]


def _cases_blob(exercises: Sequence[str]) -> bytes:
    """What the sandbox receives after a notebook's cells have run: for each exercise its cases' inputs."""
    specs = []
    for name in exercises:
        ex = catalog.get(name)
        specs.append({"name": name, "function": ex.function, "no_loops": bool(ex.no_loops),
                      "forbidden": forbidden_calls(name), "cases": [c.make() for c in ex.cases(hidden=True)]})
    data = pickle.dumps(specs, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(8, "big") + data


def _notebooks_map() -> dict[str, list[list[str]]]:
    return {nb: [[n, catalog.get(n).function] for n in names] for nb, names in catalog.NOTEBOOKS.items()}


# --- rules judged on the notebook's source (trusted side, outside the student's process) -----------------------

# Code that can rewrite, hide or bypass a graded function from inside the student's process: evaluating text as
# code, reaching frames, tracers or code objects, compiling with TorchScript, loading modules by hand. Anywhere in
# a notebook, it makes every exercise the notebook answers "needs review" (no points until a person has looked).
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "globals", "locals", "vars", "breakpoint"}
TRICK_ATTRIBUTES = {"__code__", "__globals__", "__builtins__", "__dict__", "__closure__", "__defaults__", "__kwdefaults__",
                    "__wrapped__", "__subclasses__", "_getframe", "settrace", "setprofile", "gettrace", "getprofile",
                    "f_back", "f_locals", "f_globals", "f_code", "f_trace", "tb_frame", "gi_frame", "cr_frame",
                    "addaudithook", "meta_path", "path_hooks", "path_importer_cache", "jit", "_C", "_ops",
                    "monitoring", "_start_new_thread", "start_new_thread", "start_new", "_bootstrap_inner",
                    "_trace_hook", "__self__",
                    # a generator's or coroutine's code object and frame: a code object can be copied with another
                    # file and line (``code.replace``) and run as a function, to look like a judged def
                    "gi_code", "cr_code", "ag_code", "ag_frame",
                    # round 20: a traceback (and from it every frame of the harness, its locals and closures, read
                    # through a format string), a closure's contents, numpy's view of any address in the process
                    "__traceback__", "tb_next", "exc_info", "last_traceback", "last_value", "last_exc", "walk_stack",
                    "walk_tb", "cell_contents", "get_field", "Formatter", "attrgetter", "methodcaller",
                    "__array_interface__", "__array_struct__"}
# modules that load, reload or re-import code by hand, or reach the interpreter's internals
TRICK_MODULES = {"ctypes", "inspect", "importlib", "imp", "pkgutil", "zipimport", "runpy", "gc", "marshal", "types",
                 "code", "codeop", "dis", "builtins", "pickle", "dill", "cffi", "_thread", "torch.jit", "torch._dynamo",
                 "torch.compiler", "sys.monitoring",
                 # they run text as code (exec) in a namespace of their own: cProfile.runctx(text, g, g)
                 # (timeit is not listed: `from timeit import default_timer` is ordinary; text that timeit runs is
                 # code the judge did not read, which the sandbox's watch sends to review)
                 "cProfile", "profile", "doctest", "pdb", "bdb", "trace", "torch.utils.benchmark",
                 # round 20: they reach any module's objects by name (the harness's among them), or unpickle
                 "pydoc", "unittest", "_pickle", "copyreg", "shelve", "multiprocessing", "_string", "string.Formatter",
                 "operator.attrgetter", "operator.methodcaller"}
TRICK_STRINGS = TRICK_ATTRIBUTES | {"exec", "eval", "compile", "__import__"}
# the modules of the harness that runs beside the notebook in the sandbox (the watch, the frame writer): a notebook
# that imports one could replace what the harness uses before its functions are graded (vizlab.exercises.core, also
# shipped, is not used by the harness there: patching it gains nothing, tests/test_grading.py)
HARNESS_IMPORTS = {"vizlab.exercises.sandbox", "vizlab.exercises.student", "vizlab.exercises.protocol"}
# the only uses of ``get_ipython()`` IPython's transformer writes (the grader's stand-in runs only magic bodies the
# judge read); any other use (``ip = get_ipython()``, ``get_ipython()._run``) needs review
SHELL_CALLS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}
TRICK_NAMES = {"__builtins__", "__loader__", "__spec__", "attrgetter", "methodcaller", "__array_interface__",
               "__array_struct__"}  # (a class body that defines numpy's view of an address)
NAMED_ACCESS = {"getattr", "setattr", "delattr", "hasattr"}
# decorators a graded function may have (they do not replace it); any other one needs review
PLAIN_DECORATORS = {"torch.no_grad()", "torch.inference_mode()", "torch.enable_grad()", "no_grad()"}
LOOP_NODES = {ast.For: "for", ast.AsyncFor: "for", ast.While: "while", ast.ListComp: "list comprehension",
              ast.GeneratorExp: "generator", ast.SetComp: "set comprehension", ast.DictComp: "dict comprehension"}


@dataclass
class SourceRules:
    """What the notebook's source says about each graded function (see :func:`judge_source`)."""

    review: list[str] = field(default_factory=list)           # reasons for "needs review", for every exercise
    unsure: dict[str, list[str]] = field(default_factory=dict)  # function -> reasons for "needs review", its own
    sources: dict[str, str] = field(default_factory=dict)    # function -> its def and the helpers it uses
    loops: dict[str, list[str]] = field(default_factory=dict)  # function -> loops in that code
    # function -> the loops of ``loops`` in the defs it reaches by name (its own def, the helpers it names, theirs):
    # counted whatever the run-time report says. The rest of ``loops`` was reached only through a value made at top
    # level (``H = {"f": _impl}``, ``K = list(map(_helper, xs))``): counted by what ran, when the report is whole
    direct_loops: dict[str, list[str]] = field(default_factory=dict)
    # (cell, first line, kind) of a code object -> the loops its own body holds (not those of the functions, lambdas
    # and classes defined in it, which are code objects of their own); cell -1: a magic body, line 0: a cell's top
    # level; kind: "<lambda>" or a comprehension's code name, "" for a def, a class or a top level
    code_loops: dict[tuple[int, int, str], list[str]] = field(default_factory=dict)
    def_keys: dict[str, set[tuple[int, int, str]]] = field(default_factory=dict)  # function -> the keys of its defs
    # functions that would be plain but for which of several defs runs (an if/else, a def repeated differently):
    # run-time facts may settle them (see vizlab.exercises.grading)
    chosen: set[str] = field(default_factory=set)
    plain: set[str] = field(default_factory=set)              # functions defined by a plain top-level def
    parsed: list[int] = field(default_factory=list)           # the cells judged: the only ones the sandbox runs
    unparsed: list[tuple[int, str]] = field(default_factory=list)  # (cell, why) of the cells it could not read
    magics: list[str] | None = field(default_factory=list)  # the magic bodies read; None: any (all in review)


def _transform() -> Callable[[str], str]:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell
    except Exception:  # noqa: BLE001 - without IPython, cells are plain Python
        return lambda src: src


def _is_main_check(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` (either order): always true in a notebook and in the sandbox."""
    test = getattr(node, "test", None)
    if not (isinstance(node, ast.If) and isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(n, ast.Name) and n.id == "__name__" for n in sides)
            and any(isinstance(n, ast.Constant) and n.value == "__main__" for n in sides))


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def _import_fallback(node: ast.AST) -> bool:
    """``try: <imports only> except ImportError: <fallback>``: either the import binds the names (an installed
    package's code, which the sandbox's watch judges by its file) or the fallback runs (read here), never both."""
    if not isinstance(node, ast.Try) or node.orelse or node.finalbody or not node.handlers or not node.body:
        return False
    if not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in node.body):
        return False
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if not kinds or not all(isinstance(k, ast.Name) and k.id in _IMPORT_ERRORS for k in kinds):
            return False
    return True


def _top_level(body: list[ast.stmt], nested: bool = False):
    """``(statement, nested)`` for the statements at module level, also inside ``if``/``try``/``with``/loops (not
    inside functions or classes); ``nested``: below such a block, not directly in the cell. The body of
    ``if __name__ == "__main__":`` counts as top level (it always runs)."""
    for node in body:
        yield node, nested
        if _is_main_check(node):
            yield from _top_level(node.body, nested)
            yield from _top_level(node.orelse, True)
        elif _import_fallback(node):  # its except block's defs are as good as top level
            yield from _top_level(node.body, nested)
            for handler in node.handlers:
                yield from _top_level(handler.body, nested)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for name in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, name, None)
                if isinstance(inner, list):
                    yield from _top_level([n for n in inner if isinstance(n, ast.AST)], True)


def _shallow(node: ast.AST):
    """``node`` and what it contains, except the bodies of functions, lambdas and classes defined in it."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                todo.append(child)


def _sys_names(trees: Sequence[ast.AST]) -> set[str]:
    """Names that may hold the ``sys`` module: ``sys``, ``import sys as s``, ``from os import sys``, and names
    assigned from one of those or from ``x.sys`` (to a fixed point), over all ``trees``."""
    names: set[str] = {"sys"}
    nodes = [node for tree in trees for node in ast.walk(tree)]
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name) for a in node.names if a.name == "sys")
        elif isinstance(node, ast.ImportFrom):
            names.update((a.asname or a.name) for a in node.names if a.name == "sys")
    assigns = [n for n in nodes if isinstance(n, (ast.Assign, ast.AnnAssign, ast.NamedExpr))]
    while True:
        before = len(names)
        for node in assigns:
            value = node.value
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
            if not any((isinstance(v, ast.Name) and v.id in names) or (isinstance(v, ast.Attribute)
                                                                       and v.attr == "sys") for v in values):
                continue  # (sys inside anything else is "passed around": flagged by itself)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name))
        if len(names) == before:
            return names


def _sys_like(node: ast.AST, sys_names: set[str]) -> bool:
    """Could ``node`` evaluate to the ``sys`` module? A name that holds it, ``x.sys``, or anything computed (a
    call, a subscript): only a plain other name or ``x.y`` (``y`` not ``sys``) is surely not."""
    if isinstance(node, ast.Name):
        return node.id in sys_names
    if isinstance(node, ast.Attribute):
        return node.attr == "sys"
    return True


def _tricks(tree: ast.AST, where: str, sys_names: set[str], templates: dict[str, str]) -> list[str]:
    """The tricks in one cell (or magic body); ``sys_names``: the names that may hold ``sys``, in the whole
    notebook (an alias made in one cell is used in another)."""
    found = []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    shell_ok = {id(n.value.func) for n in ast.walk(tree)  # get_ipython().run_line_magic(...) and the like
                if isinstance(n, ast.Attribute) and n.attr in SHELL_CALLS and isinstance(n.value, ast.Call)
                and isinstance(n.value.func, ast.Name) and n.value.func.id == "get_ipython" and id(n) in called}
    # a look at the shell that cannot keep it (review r18: Colab checks zeroed honest notebooks):
    # `get_ipython() is None`, `'google.colab' in str(get_ipython())`
    def _shell_call(n):
        return isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "get_ipython" and not n.args
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare) and all(isinstance(op, (ast.Is, ast.IsNot)) for op in n.ops):
            shell_ok |= {id(c.func) for c in [n.left, *n.comparators] if _shell_call(c)}
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("str", "repr"):
            shell_ok |= {id(a.func) for a in n.args if _shell_call(a)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Name) and node.id == "get_ipython" and id(node) not in shell_ok:
            found.append(f"uses get_ipython other than for a magic ({where}, line {line})")
        elif isinstance(node, ast.Name) and node.id in sys_names and isinstance(node.ctx, ast.Load) \
                and id(node) not in bases:
            found.append(f"passes the sys module around ({where}, line {line})")  # f(sys): s.modules inside
        elif isinstance(node, ast.Attribute) and node.attr == "sys" and id(node) not in bases:
            found.append(f"passes the sys module around ({where}, line {line})")
    for node in ast.walk(tree):
        found.extend(_format_tricks(node, where, called, templates))
        found.extend(_option_tricks(node, where))
        if isinstance(node, ast.Name) and node.id in NAMED_ACCESS and id(node) not in called:
            found.append(f"passes {node.id} around ({where}, line {node.lineno})")  # g = getattr; g(obj, text)
    # sys.exc_info()[0] and [1] (the exception's type, the exception) are ordinary; [2], the traceback, unpacking
    # or passing exc_info around is not (r20-review2's finding 4)
    exc_kind = {id(n.value.func) for n in ast.walk(tree)
                if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Call) and not n.value.args
                and isinstance(n.value.func, ast.Attribute) and n.value.func.attr == "exc_info"
                and isinstance(n.slice, ast.Constant) and type(n.slice.value) is int and n.slice.value in (0, 1)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] + [
                f"{node.module}.{a.name}" for a in node.names if node.module]  # from torch.utils import benchmark
            if isinstance(node, ast.ImportFrom) and node.module == "sys":
                modules += [f"sys.{a.name}" for a in node.names]
            for m in modules:
                if m in TRICK_MODULES or m.split(".")[0] in TRICK_MODULES \
                        or m in ("sys._getframe", "sys.modules", "sys.exc_info") \
                        or m in HARNESS_IMPORTS or m.startswith(tuple(f"{h}." for h in HARNESS_IMPORTS)):
                    found.append(f"imports {m} ({where}, line {line})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DYNAMIC_CALLS:
            found.append(f"calls {node.func.id}() ({where}, line {line})")
        elif isinstance(node, ast.Attribute) and ((node.attr in TRICK_ATTRIBUTES and id(node) not in exc_kind) or (
                node.attr == "modules" and id(node) not in called and _sys_like(node.value, sys_names))):
            # sys.modules, os.sys.modules; not model.modules(), nn.modules.conv
            found.append(f"uses .{node.attr} ({where}, line {line})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TRICK_STRINGS:
            found.append(f"names {node.value!r} in a string ({where}, line {line})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and TRICK_WORDS.search(node.value):
            # a template for logging's "{" style or any other formatter (r20-review2's finding 1)
            found.append(f"names {TRICK_WORDS.search(node.value).group(0)!r} inside a string ({where}, line {line})")
        elif isinstance(node, ast.Name) and node.id in DYNAMIC_CALLS and id(node) not in called:
            found.append(f"uses {node.id} ({where}, line {line})")  # f = eval; f(text)
        elif isinstance(node, ast.Name) and node.id in TRICK_NAMES:
            found.append(f"uses {node.id} ({where}, line {line})")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NAMED_ACCESS
              and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant)):
            found.append(f"calls {node.func.id}() with a computed name ({where}, line {line})")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NAMED_ACCESS
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and (node.args[1].value == "sys" or (node.args[1].value == "modules"
                                                     and _sys_like(node.args[0], sys_names)))):
            found.append(f"names {node.args[1].value!r} in {node.func.id}() ({where}, line {line})")
    return found


# keyword arguments that unpickle what they load (numpy.load, torch.load)
UNPICKLING = {("allow_pickle", True), ("weights_only", False)}
# the names of TRICK_ATTRIBUTES as words inside a string (not the ordinary words among them)
TRICK_WORDS = re.compile(r"(?<![A-Za-z0-9_])(%s)(?![A-Za-z0-9_])" % "|".join(
    sorted(map(re.escape, TRICK_ATTRIBUTES - {"jit", "monitoring", "Formatter"}), key=len, reverse=True)))
# logging's formatters: their "{" and "$" styles run str.format (or string.Template) on the record
LOGGING_FORMATTERS = {"basicConfig", "Formatter"}
LOGGING_STYLES = {"StrFormatStyle", "StringTemplateStyle", "_STYLES", "dictConfig", "fileConfig"}


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _option_tricks(node: ast.AST, where: str) -> list[str]:
    """Options that unpickle (``allow_pickle=True``, ``weights_only=False``) or that the source does not show
    (r20-review2's finding 1): a logging formatter's ``style`` other than a literal ``'%'`` (its ``'{'`` style walks
    attributes and items as ``str.format`` does), logging configured from a dict or file; ``allow_pickle``/
    ``weights_only`` not a literal, or a loader's options passed as ``**mapping``, ``*args`` or a third positional
    argument (``np.load(f, None, True)``)."""
    line = getattr(node, "lineno", "?")
    if isinstance(node, ast.keyword) and node.arg in ("allow_pickle", "weights_only"):
        if not isinstance(node.value, ast.Constant):
            return [f"computes {node.arg} (it may unpickle a file) ({where}, line {line})"]
        if (node.arg, node.value.value) in UNPICKLING:
            return [f"unpickles a file ({node.arg}={node.value.value}: pickle reaches any object by name) "
                    f"({where}, line {getattr(node.value, 'lineno', '?')})"]
        return []
    if isinstance(node, (ast.Name, ast.Attribute)) and (getattr(node, "id", None) or getattr(node, "attr", None)) \
            in LOGGING_STYLES:
        return [f"uses logging's {getattr(node, 'id', None) or node.attr} ({where}, line {line})"]
    if not isinstance(node, ast.Call):
        return []
    name = _call_name(node)
    if name in LOGGING_FORMATTERS:
        style = [k.value for k in node.keywords if k.arg == "style"] + node.args[2:3]
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args) or any(
                not (isinstance(v, ast.Constant) and v.value == "%") for v in style):
            return [f"sets a logging style other than '%' in {name}() ({where}, line {line})"]
    if name == "load" and (any(k.arg is None for k in node.keywords) or len(node.args) > 2
                           or any(isinstance(a, ast.Starred) for a in node.args)):
        return [f"passes load() options it computed (it may unpickle a file) ({where}, line {line})"]
    return []
FORMAT_METHODS = {"format", "format_map"}


def _template_fields(text: str) -> list[str] | None:
    """The field names of a ``str.format`` template, those nested in format specs too (``None`` when it does not
    parse)."""
    import string

    found, todo = [], [text]
    try:
        while todo:
            for _, name, spec, _ in string.Formatter().parse(todo.pop()):
                if name is not None:
                    found.append(name)
                if spec and "{" in spec:
                    todo.append(spec)
    except ValueError:
        return None
    return found


def _field_walks(name: str) -> bool:
    """Does a template's field reach something the judge must see (round 20: ``{0.tb_frame.f_back.f_locals[report]
    .__closure__[0].cell_contents}``)? An attribute of :data:`TRICK_ATTRIBUTES` or one starting with ``_``, or an
    item named by a string (``[report]``); ``{0.shape}`` and ``{1[0]}`` do not."""
    import _string

    try:
        _, rest = _string.formatter_field_name_split(name)
        parts = list(rest)
    except ValueError:
        return True
    return any((key in TRICK_ATTRIBUTES or key.startswith("_")) if is_attr else isinstance(key, str)
               for is_attr, key in parts)


def _constant_templates(trees: Sequence[ast.AST]) -> dict[str, str]:
    """Names bound, in the whole notebook, exactly once: at a cell's top level, to one string constant
    (``LINE = 'step {}: loss {:.3f}'``). Any other binding of the name (an argument, an import, ``global``, an
    attribute or ``setattr`` of that name) leaves it out."""
    counts: dict[str, int] = {}
    constants: dict[str, str] = {}

    def bind(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for tree in trees:
        for stmt in tree.body:
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
                constants[stmt.targets[0].id] = stmt.value.value
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                bind(node.id)
            elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
                bind(node.attr)  # __main__.LINE = ...
            elif isinstance(node, ast.arg):
                bind(node.arg)
            elif isinstance(node, ast.alias):
                bind((node.asname or node.name).split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bind(node.name)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    bind(name)
                    bind(name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bind(node.name)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                bind(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                bind(node.rest)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                  and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                  and isinstance(node.args[1].value, str)):
                bind(node.args[1].value)  # setattr(module, 'LINE', ...)
    return {name: text for name, text in constants.items() if counts.get(name) == 1}


def _format_tricks(node: ast.AST, where: str, called: set[int], templates: dict[str, str]) -> list[str]:
    """``str.format`` walks attributes and items named in its template (``"{0.tb_frame.f_back.f_locals}"``): a
    template whose fields walk to a trick attribute, one starting with ``_`` or an item named by a string, one
    computed at run time (not a constant, nor a name bound only to one, see :func:`_constant_templates`), or
    ``str.format`` itself, needs review (round 20: a notebook read the harness's token from its closure this way).
    Plain templates (``"{}"``, ``"{loss:.3f}"``, ``"{0.shape} {1[0]}"``) are fine, called or passed around
    (``map('{:.3f}'.format, xs)``; r20-review2's finding 3)."""
    if not (isinstance(node, ast.Attribute) and node.attr in FORMAT_METHODS):
        return []
    line = node.lineno
    receiver = node.value
    if isinstance(receiver, ast.Name) and receiver.id == "str":
        return [f"calls str.{node.attr} ({where}, line {line})"]
    if isinstance(receiver, ast.Constant) and isinstance(receiver.value, str):
        text = receiver.value
    elif isinstance(receiver, ast.Name) and receiver.id in templates:
        text = templates[receiver.id]
    elif id(node) not in called:
        return [f"passes .{node.attr} of a template it computed around ({where}, line {line})"]
    else:
        return [f"formats a template it computed with .{node.attr} ({where}, line {line})"]
    fields = _template_fields(text)
    if fields is None or any(_field_walks(name) for name in fields):
        return [f"formats attributes or items named in a template ({where}, line {line})"]
    return []


def _magic_code(tree: ast.AST) -> list[str]:
    """The code inside ``get_ipython().run_line_magic("time", code)`` and ``run_cell_magic("time", "", code)``
    calls (what IPython's transformer makes of ``%time``/``%%time`` and the like), as text."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run_line_magic", "run_cell_magic")
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)):
            args = [a.value for a in node.args]
            if node.func.attr == "run_cell_magic" and len(args) == 3:
                found.append(args[2])
            elif len(args) == 2:
                line = args[1]
                found.append(magic_line_code(line))
    return found


def _is_stub(node: ast.AST) -> bool:
    """A skeleton: a plain ``def`` whose body is only ``raise NotImplementedError`` (after a docstring). Running it
    earns nothing, so a notebook that keeps it beside its answer (draft, then answer) is not unsure which runs."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.decorator_list:
        return False
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].cause is not None:
        return False
    exc = body[0].exc
    if isinstance(exc, ast.Call) and not exc.keywords and all(isinstance(a, ast.Constant) for a in exc.args):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _decorator_text(code: str, node: ast.AST) -> str:
    """A decorator as written, without spaces, cut at 80 characters (never ``ast.unparse``: a deep expression
    would overflow the stack)."""
    text = "".join((ast.get_source_segment(code, node) or "?").split())
    return text if len(text) <= 80 else text[:77] + "..."


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSION_CODE = {ast.ListComp: "<listcomp>", ast.SetComp: "<setcomp>", ast.DictComp: "<dictcomp>",
                       ast.GeneratorExp: "<genexpr>"}


def loop_label(node: ast.AST, owner: str, where: str) -> str:
    """``"for loop in _impl (cell 2, line 3)"``: how a loop is named in the feedback."""
    kind = LOOP_NODES[type(node)]
    return f"{kind}{' loop' if kind in ('for', 'while') else ''} in {owner} ({where}, line {node.lineno})"


def loop_key(label: str) -> tuple[str, str]:
    """The same loop, whoever it is named after: its kind and ``(cell N, line M)``."""
    return label.split(" in ", 1)[0], label[label.rindex(" ("):]


def _own_nodes(nodes):
    """``nodes`` and what they contain that runs in the same code object: not the bodies of the functions, lambdas
    and classes defined there (but their decorators, defaults and bases, which run where they are defined).
    Comprehensions are walked into: the no-loops rule counts them where they are written."""
    todo = list(nodes)
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                todo.extend(getattr(child, "decorator_list", []))
                todo.extend(getattr(child, "bases", []))
                todo.extend(k.value for k in getattr(child, "keywords", []))
                args = getattr(child, "args", None)
                if isinstance(args, ast.arguments):
                    todo.extend(d for d in (*args.defaults, *args.kw_defaults) if d is not None)
            else:
                todo.append(child)


def _code_loops(trees: Sequence[tuple[int, ast.AST, str]]) -> dict[tuple[int, int, str], list[str]]:
    """For every code object a cell's (or magic body's) source makes, keyed as the sandbox's watch reports it
    (``(cell, co_firstlineno, kind)``: a def's or class's first decorator line, a lambda's or comprehension's line,
    line 0 for the cell's top level; kind ``"<lambda>"``, ``"<listcomp>"``, ... or ``""`` for a def, a class or the
    top level), the loops of its own body. Several code objects of one kind on one line (two lambdas) share a key:
    their loops are counted together (more, never fewer)."""
    found: dict[tuple[int, int, str], list[str]] = {}
    for cell, tree, where in trees:
        entries = [((cell, 0, ""), "the cell's top level", list(tree.body))]
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                entries.append(((cell, first, ""), node.name, list(node.body)))
            elif isinstance(node, ast.Lambda):
                entries.append(((cell, node.lineno, "<lambda>"), "<lambda>", [node.body]))
            elif type(node) in _COMPREHENSION_CODE:
                kind = _COMPREHENSION_CODE[type(node)]
                entries.append(((cell, node.lineno, kind), kind, [node]))
        for key, owner, body in entries:
            loops = found.setdefault(key, [])
            for inner in sorted((n for n in _own_nodes(body) if type(n) in LOOP_NODES),
                                key=lambda n: (n.lineno, n.col_offset)):
                label = loop_label(inner, owner, where)
                if label not in loops:
                    loops.append(label)
    return found


def judge_source(cells: Sequence[tuple[int, str]], functions: Sequence[str]) -> SourceRules:
    """Judge the notebook's code cells (``(index, source)``), as text, for the graded ``functions``.

    * every trick of :data:`TRICK_ATTRIBUTES`, :data:`TRICK_MODULES`, :data:`DYNAMIC_CALLS`, anywhere: a reason for
      "needs review" (the code runs in the same process as the graded functions, so it can alter any of them);
    * a graded function that is not defined by a plain ``def`` at the notebook's top level (``exec``, an
      assignment, a lambda, a decorator) cannot be judged from its source: found later by the caller (``plain``);
      nor can one that, or a helper it uses, has a ``def`` inside an ``if``/``try``/``with``/loop or different
      ``def`` statements in several places (which one runs is decided at run time): "needs review" for that function
      (``unsure``);
    * each graded function's code, with the notebook's own functions and classes it uses (transitively):
      ``sources`` (for the no-loops rule and the judge) and the loops in it, in every ``def`` of those names
      (``loops``);
    * ``parsed``: the cells it could read, the only ones the sandbox may run (a cell it cannot read, e.g. one that
      parses only with a raised recursion limit, is not run at all; ``unparsed`` says why).
    """
    transform = _transform()
    result = SourceRules()
    defs: dict[str, list[tuple[str, ast.AST, str, bool]]] = {}  # name -> every (where, node, text, nested)
    decorations: dict[int, list[str]] = {}  # id(def node) -> its decorators as written
    rebound: dict[str, str] = {}  # names bound at top level other than by def (assignment, import, global, ...)
    fallback: dict[str, str] = {}  # names an import binds in try: import ... except ImportError: <fallback>
    refers: dict[str, set[str]] = {}  # a name bound at top level by a statement -> the names that statement reads
    unreadable: dict[int, str] = {}
    trees: list[tuple[ast.AST, str]] = []
    code_trees: list[tuple[int, ast.AST, str]] = []  # (cell as the watch names it, tree, where)
    def_key: dict[int, tuple[int, int, str]] = {}  # id(def node) -> (cell, first line, "") of the code it makes
    todo = [(index, f"cell {index}", source, 0) for index, source in reversed(cells)]
    while todo:
        index, where, source, depth = todo.pop()
        try:
            code = transform(source)
            tree = ast.parse(code)
        except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as exc:
            # the sandbox must not run it either: with a raised recursion limit it might parse there
            unreadable.setdefault(index, f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        trees.append((tree, where))
        code_trees.append((-1 if depth else index, tree, where))  # a magic body runs as <magic>
        if depth:
            result.magics.append(source)  # the sandbox's get_ipython() runs only these
        if depth < 3:  # code that %time, %timeit, %%time, %%timeit, %%capture run (the sandbox runs it too)
            todo.extend((index, where, inner, depth + 1) for inner in reversed(_magic_code(tree)))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                rebound.update({name: f"{where}, line {node.lineno}" for name in node.names})
        fallback_aliases = {id(a) for node in ast.walk(tree) if _import_fallback(node)
                            for stmt in node.body for a in stmt.names}
        for node, nested in _top_level(tree.body):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                calls = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
                loaded = {n.id for n in ast.walk(node)  # KERNEL = make_kernel(3): make_kernel's result, not it
                          if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in calls}
                for inner in _shallow(node):
                    if isinstance(inner, ast.Name) and isinstance(inner.ctx, (ast.Store, ast.Del)):
                        rebound[inner.id] = f"{where}, line {inner.lineno}"
                        refers.setdefault(inner.id, set()).update(loaded)
                    elif isinstance(inner, ast.alias) and id(inner) in fallback_aliases:
                        fallback[(inner.asname or inner.name).split(".")[0]] = f"{where}, line {node.lineno}"
                    elif isinstance(inner, ast.alias):
                        rebound[(inner.asname or inner.name).split(".")[0]] = f"{where}, line {node.lineno}"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs.setdefault(node.name, []).append((where, node, ast.get_source_segment(code, node) or "", nested))
                decorations[id(node)] = [_decorator_text(code, d) for d in node.decorator_list]
                def_key[id(node)] = (-1 if depth else index,
                                     min([node.lineno] + [d.lineno for d in node.decorator_list]), "")
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        defs.setdefault(target.id, []).append(
                            (where, node, ast.get_source_segment(code, node) or "", nested))
    sys_names = _sys_names([tree for tree, _ in trees])
    templates = _constant_templates([tree for tree, _ in trees])
    for tree, where in trees:
        result.review.extend(_tricks(tree, where, sys_names, templates))
    for name, entries in defs.items():  # a skeleton beside a real def is not a second definition
        real = [e for e in entries if not _is_stub(e[1])]
        if real and len(real) < len(entries):
            defs[name] = real
    result.parsed = [index for index, _ in cells if index not in unreadable]
    result.unparsed = sorted(unreadable.items())
    result.code_loops = _code_loops(code_trees)
    for function in functions:
        entries = defs.get(function)
        if not entries:
            continue
        where, node, _, _ = entries[-1]
        decorators = [d for e in entries for d in decorations.get(id(e[1]), [])]
        odd = list(dict.fromkeys(d for d in decorators if d not in PLAIN_DECORATORS))
        if odd:
            result.review.append(f"decorates `{function}` with {', '.join(odd)} ({where})")
        if function in rebound or function in fallback:  # (a graded function imported: not the notebook's own)
            result.review.append(f"binds `{function}` again other than by `def` "
                                 f"({rebound.get(function) or fallback[function]})")
        seen, todo_names, parts, loops, unsure = set(), [function], [], [], []
        owners: dict[str, str] = {}  # loop -> the name whose def holds it
        choice = []  # the reasons in `unsure` that are only about which def runs
        while todo_names:
            name = todo_names.pop()
            if name in seen:
                continue
            seen.add(name)
            # a helper reached through a value (H = {"f": _impl}; H["f"](img)): follow what its statement reads
            todo_names.extend(sorted(refers.get(name, ())))
            if name not in defs:
                continue
            texts = list(dict.fromkeys(text for _, _, text, _ in defs[name]))  # the same def run again is one
            nested = [w for w, _, _, inside in defs[name] if inside]
            if name != function and name in rebound:  # (the function itself: see above, for every exercise)
                unsure.append(f"binds `{name}`, which `{function}` uses, again other than by `def` "
                              f"({rebound[name]}): the code that runs is not the code judged")
            if nested:
                choice.append(f"defines `{name}` inside an if/try/with/loop block ({nested[0]}): which `def` runs "
                              "is decided at run time")
                unsure.append(choice[-1])
            elif len(texts) > 1:
                choice.append(f"defines `{name}` {len(texts)} times, differently "
                              f"({', '.join(dict.fromkeys(w for w, _, _, _ in defs[name]))}): which one runs is "
                              "decided at run time")
                unsure.append(choice[-1])
            parts.append("\n\n".join(texts))
            for where_def, node_def, _, _ in defs[name]:
                local = {a.arg for n in ast.walk(node_def) if isinstance(n, ast.arguments)
                         for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg) if a is not None}
                local |= {n.id for n in ast.walk(node_def) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                for inner in ast.walk(node_def):
                    if type(inner) in LOOP_NODES:
                        loop = loop_label(inner, name, where_def)
                        if loop not in loops:
                            loops.append(loop)
                            owners[loop] = name
                    elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load) and (
                            inner.id in defs or (inner.id in refers and inner.id not in local)):
                        todo_names.append(inner.id)
        if unsure:
            result.unsure[function] = unsure
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not odd and function not in rebound \
                and function not in fallback:
            if not unsure:
                result.plain.add(function)
            elif len(choice) == len(unsure):
                result.chosen.add(function)
        # the names reached from the function through defs alone (a def names a def), not through a value
        direct, todo_direct = set(), [function]
        while todo_direct:
            name = todo_direct.pop()
            if name in direct or name not in defs:
                continue
            direct.add(name)
            todo_direct.extend(inner.id for _, node_def, _, _ in defs[name] for inner in ast.walk(node_def)
                               if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load) and inner.id in defs)
        result.sources[function] = "\n\n".join(parts)
        result.loops[function] = loops
        result.direct_loops[function] = [loop for loop in loops if owners[loop] in direct]
        result.def_keys[function] = {def_key[id(n)] for _, n, _, _ in entries if id(n) in def_key}
    result.review = list(dict.fromkeys(result.review))
    return result
