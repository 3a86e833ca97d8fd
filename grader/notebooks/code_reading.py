"""Read a notebook's code without running it, in the trusted grading process.

Two questions, both answered from the source (IPython syntax transformed, then Python's `ast`):

* `forbidden_uses`: does the student's function — with the helpers, classes and nested functions
  it reaches — call one of torch's recurrent built-ins? Names are *resolved*, not matched: the
  notebook's cells are read in order, imports and assignments tracked (`rnn = nn.RNN(...)` in a
  locked cell, `from torch import nn`, `R = nn.GRU`), so `rnn(sequence, h_0)` is the built-in
  while a student's own `class RNN` or `def rnn(inputs, state, params)` is not. A finding is
  made only when every value a name can have there is the built-in; anything in doubt (a name
  rebound on one branch only, a module computed at run time) is left to the run-time guard.
* `review_findings`: does code anywhere in the notebook reach for the machinery a grader's
  in-process checks rely on, or hide what it runs (gc walks, ctypes, frames, torch's dispatcher,
  `sys.modules`, the grader's own package, builtins, exec of computed code, patching libraries,
  processes, pickle)? Those are reported for an instructor to look at; they change no score.

Findings are strings "cell C, line L: what", C counted among all of the notebook's cells from 1,
L within the cell; the pipeline words them as Jupyter shows the cell (cells.as_jupyter_shows).
"""

from __future__ import annotations

import ast
import builtins
import functools
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

Atom = tuple  # ("ref", path) | ("made", path) | ("attr", path) | ("own", id) | ("globals",) | UNK
UNK: Atom = ("?",)
Value = frozenset
UNKNOWN: Value = frozenset({UNK})
GLOBALS: Atom = ("globals",)

BUILTIN_NAMES = frozenset(dir(builtins))
# Calling these on a torch.nn module runs its forward (the built-in computation).
CALL_ATTRIBUTES = frozenset({"forward", "__call__", "_call_impl", "_wrapped_call_impl"})
# Methods run without being named: constructors, calls, protocols.
IMPLICIT_METHODS = frozenset({"__init__", "__new__", "__call__", "forward", "__post_init__",
                              "__enter__", "__exit__", "__iter__", "__next__", "__getitem__"})
# Cell and line magics whose argument is Python code run in the notebook's namespace.
CODE_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
MAX_STRINGS = 256
MAX_STATEMENTS = 200_000  # statements read before giving up (nested loops are read twice)


class TooComplex(Exception):
    """The notebook's code is too large or too nested to read in reasonable time."""


# --- parsing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParsedCell:
    number: int  # position among all of the notebook's cells, from 1
    tree: ast.Module
    declares_global: bool = False  # some function in it has a `global` statement
    bindings: tuple[ast.AST, ...] = ()  # its nodes that bind names (for _string_bindings)


@functools.lru_cache(maxsize=4)  # both readers read the same notebook; trees are not changed
def parse_cells(notebook) -> tuple[ParsedCell, ...]:
    """Every code cell the grader runs, as Python (IPython magics transformed; the code inside
    %%time / %%timeit / %%capture / %%prun cells spliced in). Cells that do not parse are
    skipped: they fail when run, too."""
    cells = (_parse_cell(cell.index, cell.source) if len(cell.source) > CACHED_CELL_CHARS
             else _cached_parse_cell(cell.index, cell.source) for cell in notebook.cells)
    return tuple(cell for cell in cells if cell is not None)


def _parse_cell(index: int, source: str) -> ParsedCell | None:
    tree = _parse(source)
    if tree is None:
        return None
    declares_global, bindings = False, []
    for node in ast.walk(tree):
        node._cell = index + 1  # type: ignore[attr-defined]
        declares_global |= isinstance(node, ast.Global)
        if isinstance(node, _BINDING_NODES):
            bindings.append(node)
    return ParsedCell(index + 1, tree, declares_global, tuple(bindings))


# A batch's notebooks share most cells word for word, at the same place: each is parsed once.
# The trees are only read afterwards, by every notebook that has the cell.
_cached_parse_cell = functools.lru_cache(maxsize=512)(_parse_cell)


CACHED_CELL_CHARS = 20_000  # a batch's notebooks share most cells word for word; not huge ones


def as_python(source: str) -> str:
    """A cell's source as IPython runs it (magics, shell escapes and help turned into calls)."""
    return _transform(source) if len(source) > CACHED_CELL_CHARS else _cached_transform(source)


def _transform(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


_cached_transform = functools.lru_cache(maxsize=2048)(_transform)


def _parse(source: str, line_offset: int = 0) -> ast.Module | None:
    try:
        tree = ast.parse(as_python(source))
    except (SyntaxError, ValueError, TypeError):
        return None
    if line_offset:
        ast.increment_lineno(tree, line_offset)
    tree.body = _expand_code_magics(tree.body)
    return tree


def _expand_code_magics(body: list[ast.stmt]) -> list[ast.stmt]:
    expanded: list[ast.stmt] = []
    for statement in body:
        magic = _magic_call(statement.value) if isinstance(statement, ast.Expr) else None
        if magic and magic[0] in ("run_cell_magic", "run_line_magic") \
                and magic[1] in CODE_MAGICS:
            kind, _, line, code = magic
            if kind == "run_line_magic":
                code, offset = _strip_magic_options(line), statement.lineno - 1
            else:
                offset = statement.lineno  # the body starts on the cell's second line
            inner = _parse(code or "", offset)
            if inner is not None:
                expanded.extend(inner.body)
                continue
        expanded.append(statement)
    return expanded


def _magic_call(node: ast.AST) -> tuple[str, str, str, str | None] | None:
    """(method, magic name, line, cell body) for `get_ipython().run_*_magic(...)`, else None;
    method is also `system` / `getoutput` for `!command`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython"):
        return None
    words = [arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
             for arg in node.args]
    method = node.func.attr
    if method in ("system", "getoutput"):
        return (method, "system", words[0] or "", None) if words else None
    if method == "run_line_magic" and len(words) >= 2 and words[0] is not None:
        return method, words[0], words[1] or "", None
    if method == "run_cell_magic" and len(words) >= 3 and words[0] is not None:
        return method, words[0], words[1] or "", words[2]
    return None


def _strip_magic_options(line: str) -> str:
    return re.sub(r"^(\s*-[a-zA-Z]+(\s+(?!-)[^\s]+(?=\s))?)*\s*", "", line)


# --- values and scopes -------------------------------------------------------------------------

@dataclass
class Own:
    """A function, lambda or class the notebook defines."""

    node: ast.AST
    scope: Scope  # where it was defined (a method's scope is the class's enclosing one)
    methods: dict[str, list[ast.AST]] = field(default_factory=dict)  # classes only
    bases: list[int] = field(default_factory=list)  # classes only: own base classes


class Scope:
    def __init__(self, kind: str, parent: Scope | None, node: ast.AST | None = None,
                 comprehension: bool = False) -> None:
        self.kind = kind  # "module", "function" or "class"
        self.parent = parent
        self.comprehension = comprehension
        self.env: dict[str, Value] = {}
        self.locals: set[str] | frozenset[str] = set()
        self.declared_global: set[str] | frozenset[str] = set()
        self.declared_nonlocal: set[str] | frozenset[str] = set()
        self.pending: list[ast.AST] = []  # nested definitions, read after the body
        if node is not None and kind == "function":
            self.locals, self.declared_global, self.declared_nonlocal = _local_names(node)

    @classmethod
    def of_function(cls, node: ast.AST, parent: Scope,
                    names: tuple[frozenset[str], frozenset[str], frozenset[str]]) -> Scope:
        scope = cls("function", parent)
        scope.locals, scope.declared_global, scope.declared_nonlocal = names
        return scope

    @property
    def module(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def lookup(self, name: str) -> Value:
        scope: Scope | None = self
        first = True
        while scope is not None:
            if scope.kind == "class":
                if first and name in scope.env:
                    return scope.env[name]
            elif scope.kind == "function":
                if name in scope.declared_global:
                    return self.module.env.get(name, UNKNOWN)
                if name in scope.locals:
                    return scope.env.get(name, UNKNOWN)
            elif name in scope.env:
                return scope.env[name]
            first = False
            scope = scope.parent
        if name == "get_ipython":
            return frozenset({("ref", "IPython.get_ipython")})
        if name in BUILTIN_NAMES:
            return frozenset({("ref", f"builtins.{name}")})
        return UNKNOWN

    def bind(self, name: str, value: Value) -> None:
        if self.kind == "function" and (name in self.declared_global
                                        or name in self.declared_nonlocal):
            return  # the other scope's value is not changed by reading this one
        self.env[name] = value


@functools.lru_cache(maxsize=1024)  # by node: a function of a shared cell is read once
def _local_names(node: ast.AST) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Names local to a function (parameters and everything it binds), and those it declares
    global or nonlocal."""
    names: set[str] = set()
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    arguments = node.args  # type: ignore[attr-defined]
    for arg in (arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]):
        names.add(arg.arg)
    body = node.body if isinstance(node.body, list) else [node.body]  # type: ignore[attr-defined]
    stack: list[ast.AST] = list(body)
    while stack:
        item = stack.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
            stack.extend(item.decorator_list)
            continue
        if isinstance(item, ast.Lambda):
            continue
        if isinstance(item, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            stack.extend(n for n in ast.walk(item) if isinstance(n, ast.NamedExpr))
            continue
        if isinstance(item, ast.Name) and isinstance(item.ctx, (ast.Store, ast.Del)):
            names.add(item.id)
        elif isinstance(item, ast.NamedExpr) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in item.names
                         if alias.name != "*")
        elif isinstance(item, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and item.name:
            names.add(item.name)
        elif isinstance(item, ast.MatchMapping) and item.rest:
            names.add(item.rest)
        elif isinstance(item, ast.Global):
            declared_global.update(item.names)
        elif isinstance(item, ast.Nonlocal):
            declared_nonlocal.update(item.names)
        stack.extend(ast.iter_child_nodes(item))
    return (frozenset(names - declared_global - declared_nonlocal), frozenset(declared_global),
            frozenset(declared_nonlocal))


def _union(values: Iterable[Value]) -> Value:
    merged: set[Atom] = set()
    for value in values:
        merged |= value
    return frozenset(merged) or UNKNOWN


def _merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    names = set().union(*envs)
    return {name: _union(env.get(name, UNKNOWN) for env in envs) for name in names}


# --- the reader ------------------------------------------------------------------------------

class _Reader:
    """Executes the notebook's code abstractly: which value each name can have where it is
    used. Subclasses decide what to report (hooks below); reports go to `self.found`."""

    def __init__(self, parsed: tuple[ParsedCell, ...]) -> None:
        self.parsed = parsed
        self.module = Scope("module", None)
        self.owns: dict[int, Own] = {}
        self.reporting = False
        self.found: dict[tuple[int, int, str], None] = {}
        self.read_functions: set[int] = set()
        self.strings = _string_bindings(parsed)
        self.budget = MAX_STATEMENTS
        self.cells_declaring_global = {cell.number for cell in parsed if cell.declares_global}

    # hooks -------------------------------------------------------------------------------
    def seen(self, node: ast.AST, value: Value, scope: Scope) -> None:
        """An expression's value, where it is used (not as the base of an attribute)."""

    def called(self, node: ast.Call, function: Value, scope: Scope) -> None:
        """A call, with the value of what is called."""

    def attribute(self, node: ast.Attribute, base: Value, scope: Scope) -> None:
        """Any attribute access, load or store."""

    def stored(self, node: ast.Attribute, base: Value, scope: Scope) -> None:
        """An attribute assigned or deleted."""

    def imported(self, node: ast.AST, path: str, scope: Scope) -> None:
        """A module or a name imported (dotted path)."""

    def named(self, node: ast.Name) -> None:
        """Any name looked up."""

    def string(self, node: ast.AST, text: str) -> None:
        """A string constant."""

    def subscripted(self, node: ast.Subscript, base: Value, scope: Scope) -> None:
        """A subscript of a namespace (globals(), vars(x), x.__dict__), load or store."""

    def special_call(self, node: ast.Call, function: Value, scope: Scope) -> bool:
        """Return True when the call was fully handled (its function not to be `seen`)."""
        return False

    # reporting -----------------------------------------------------------------------------
    def report(self, node: ast.AST, what: str) -> None:
        if self.reporting:
            cell = getattr(node, "_cell", 0)
            self.found[(cell, getattr(node, "lineno", 0), what)] = None

    def findings(self) -> list[str]:
        ordered = sorted(self.found)
        first_per_line: dict[tuple[int, int], str] = {}
        for cell, line, what in ordered:
            first_per_line.setdefault((cell, line), what)
        return [f"cell {cell}, line {line}: {what}" for (cell, line), what in
                first_per_line.items()]

    # the notebook --------------------------------------------------------------------------
    def read_cells(self) -> None:
        for cell in self.parsed:
            self.run(cell.tree.body, self.module)

    def read_function(self, own: Own) -> None:
        node = own.node
        if id(node) in self.read_functions:
            return
        self.read_functions.add(id(node))
        scope = Scope.of_function(node, own.scope, self.names_of(node))
        arguments = node.args  # type: ignore[attr-defined]
        for arg in (arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                    + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]):
            scope.bind(arg.arg, UNKNOWN)
        if isinstance(node, ast.Lambda):
            self.ev(node.body, scope)
        else:
            self.run(node.body, scope)
        self.read_pending(scope)

    def names_of(self, node: ast.AST) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        return _local_names(node)

    def read_pending(self, scope: Scope) -> None:
        while scope.pending:
            self.read_function(self.owns[id(scope.pending.pop(0))])

    # statements ----------------------------------------------------------------------------
    def run(self, body: list[ast.stmt], scope: Scope) -> None:
        for statement in body:
            self.budget -= 1
            if self.budget < 0:
                raise TooComplex
            self.statement(statement, scope)

    def branches(self, bodies: list[list[ast.stmt]], scope: Scope, keep: bool = True) -> None:
        """Run alternative bodies from the same state; afterwards a name has any of their
        values (and its old one too when `keep`: no branch may have run)."""
        start = dict(scope.env)
        ends = [start] if keep else []
        for body in bodies:
            scope.env = dict(start)
            self.run(body, scope)
            ends.append(scope.env)
        scope.env = _merge_envs(ends)

    def loop(self, body: list[ast.stmt], orelse: list[ast.stmt], scope: Scope,
             bind_target=None) -> None:
        for _ in range(2):  # a second pass sees what the first one bound, if anything
            start = dict(scope.env)
            if bind_target:
                bind_target()
            self.run(body, scope)
            scope.env = _merge_envs([start, scope.env])
            if scope.env == start:
                break
        self.run(orelse, scope)

    def statement(self, node: ast.stmt, scope: Scope) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.define_function(node, scope)
        elif isinstance(node, ast.ClassDef):
            self.define_class(node, scope)
        elif isinstance(node, ast.Assign):
            value = self.ev(node.value, scope)
            for target in node.targets:
                self.assign(target, value, node.value, scope)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.ev(node.value, scope), node.value, scope)
        elif isinstance(node, ast.AugAssign):
            self.ev(node.value, scope)
            self.assign(node.target, UNKNOWN, None, scope)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.ev(node.iter, scope)
            element = self.elements(node.iter, scope) or UNKNOWN
            self.loop(node.body, node.orelse, scope,
                      lambda: self.assign(node.target, element, None, scope))
        elif isinstance(node, ast.While):
            self.ev(node.test, scope)
            self.loop(node.body, node.orelse, scope)
        elif isinstance(node, ast.If):
            self.ev(node.test, scope)
            self.branches([node.body, node.orelse], scope, keep=False)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.ev(item.context_expr, scope)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, UNKNOWN, None, scope)
            self.run(node.body, scope)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            handlers = []
            for handler in node.handlers:
                if handler.type is not None:
                    self.ev(handler.type, scope)
                if handler.name:
                    scope.bind(handler.name, UNKNOWN)
                handlers.append(handler.body)
            self.branches([node.body + node.orelse] + handlers, scope)
            self.run(node.finalbody, scope)
        elif isinstance(node, ast.Match):
            self.ev(node.subject, scope)
            for case in node.cases:
                for name in _pattern_names(case.pattern):
                    scope.bind(name, UNKNOWN)
                if case.guard is not None:
                    self.ev(case.guard, scope)
            self.branches([case.body for case in node.cases], scope)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self.imported(node, alias.name, scope)
                if alias.asname:
                    scope.bind(alias.asname, frozenset({("ref", alias.name)}))
                else:
                    top = alias.name.split(".")[0]
                    scope.bind(top, frozenset({("ref", top)}))
        elif isinstance(node, ast.ImportFrom):
            self.import_from(node, scope)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scope.env.pop(target.id, None)
                else:
                    self.assign(target, UNKNOWN, None, scope, delete=True)
        elif isinstance(node, (ast.Global, ast.Nonlocal, ast.Pass, ast.Break, ast.Continue)):
            pass
        else:  # Expr, Return, Raise, Assert and anything newer: evaluate what it holds
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.ev(child, scope)

    def import_from(self, node: ast.ImportFrom, scope: Scope) -> None:
        if node.level:  # relative: nothing to resolve against in a notebook
            for alias in node.names:
                if alias.name != "*":
                    scope.bind(alias.asname or alias.name, UNKNOWN)
            return
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                self.imported(node, f"{module}.*", scope)
                for name in STAR_EXPORTS.get(module, ()):
                    scope.bind(name, frozenset({("ref", f"{module}.{name}")}))
                continue
            path = f"{module}.{alias.name}"
            self.imported(node, path, scope)
            scope.bind(alias.asname or alias.name, frozenset({("ref", path)}))

    def define_function(self, node: ast.AST, scope: Scope) -> Value:
        for decorator in getattr(node, "decorator_list", []):
            self.ev(decorator, scope)
        arguments = node.args  # type: ignore[attr-defined]
        for default in arguments.defaults + [d for d in arguments.kw_defaults if d is not None]:
            self.ev(default, scope)
        parent = scope
        while parent.kind == "class":  # methods do not see the class body's names
            parent = parent.parent  # type: ignore[assignment]
        self.owns[id(node)] = Own(node, parent)
        value = frozenset({("own", id(node))})
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope.bind(node.name, value)
            if getattr(node, "_cell", None) in self.cells_declaring_global:
                # A function that rebinds a global with `global` makes its value uncertain.
                _, declared_global, _ = self.names_of(node)
                assigned = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                            and isinstance(n.ctx, ast.Store)}
                module = scope.module
                for name in declared_global & assigned:
                    module.env[name] = _union([module.env.get(name, UNKNOWN), UNKNOWN])
        if parent.kind != "module":  # textually inside a function: read with it
            parent.pending.append(node)
        return value

    def define_class(self, node: ast.ClassDef, scope: Scope) -> None:
        for expression in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.ev(expression, scope)
        own = Own(node, scope)
        own.bases = [atom[1] for base in node.bases for atom in self.quiet_value(base, scope)
                     if atom[0] == "own"]
        self.owns[id(node)] = own
        self.run(node.body, Scope("class", scope))
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                own.methods.setdefault(statement.name, []).append(statement)
        scope.bind(node.name, frozenset({("own", id(node))}))

    def assign(self, target: ast.expr, value: Value, source: ast.expr | None, scope: Scope,
               delete: bool = False) -> None:
        if isinstance(target, ast.Name):
            scope.bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            parts = source.elts if isinstance(source, (ast.Tuple, ast.List)) and \
                len(source.elts) == len(target.elts) else None
            for index, element in enumerate(target.elts):
                self.assign(element.value if isinstance(element, ast.Starred) else element,
                            UNKNOWN if parts is None else self.quiet_value(parts[index], scope),
                            None, scope, delete)
        elif isinstance(target, ast.Attribute):
            base = self.ev(target.value, scope, outer=False)
            self.attribute(target, base, scope)
            self.stored(target, base, scope)
        elif isinstance(target, ast.Subscript):
            base = self.ev(target.value, scope)
            self.ev(target.slice, scope)
            if GLOBALS in base or any(atom[0] == "ns" for atom in base):
                self.subscripted(target, base, scope)
            if GLOBALS in base:
                for key in self.possible_strings(target.slice, scope) or ():
                    self.module.env[key] = _union([self.module.env.get(key, UNKNOWN), value])
        elif isinstance(target, ast.Starred):
            self.assign(target.value, UNKNOWN, None, scope, delete)

    def quiet_value(self, node: ast.expr, scope: Scope) -> Value:
        """The value of an expression already evaluated (and reported) once."""
        reporting, self.reporting = self.reporting, False
        try:
            return self.ev(node, scope)
        finally:
            self.reporting = reporting

    def elements(self, node: ast.expr, scope: Scope) -> Value | None:
        """What a loop over a literal tuple or list binds."""
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts:
            return _union(self.quiet_value(element, scope) for element in node.elts)
        return None

    # expressions ---------------------------------------------------------------------------
    def ev(self, node: ast.expr, scope: Scope, outer: bool = True) -> Value:
        value = self.evaluate(node, scope)
        if outer and not isinstance(node, ast.Call):
            self.seen(node, value, scope)
        return value

    def evaluate(self, node: ast.expr, scope: Scope) -> Value:
        if isinstance(node, ast.Name):
            self.named(node)
            return scope.lookup(node.id) if isinstance(node.ctx, ast.Load) else UNKNOWN
        if isinstance(node, ast.Attribute):
            base = self.ev(node.value, scope, outer=False)
            self.attribute(node, base, scope)
            return self.attribute_of(base, node.attr)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, scope)
            self.ev(node.slice, scope)
            return self.subscript_of(node, base, scope)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                self.string(node, node.value)
            return UNKNOWN
        if isinstance(node, ast.Lambda):
            return self.define_function(node, scope)
        if isinstance(node, ast.IfExp):
            self.ev(node.test, scope)
            return _union([self.ev(node.body, scope), self.ev(node.orelse, scope)])
        if isinstance(node, ast.BoolOp):
            return _union(self.ev(value, scope) for value in node.values)
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value, scope)
            self.assign(node.target, value, None, _walrus_scope(scope))
            return value
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node, scope)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, scope)
            elif isinstance(child, ast.keyword):
                self.ev(child.value, scope)
        return UNKNOWN

    def comprehension(self, node: ast.AST, scope: Scope) -> Value:
        inner = Scope("function", scope, comprehension=True)
        for position, generator in enumerate(node.generators):  # type: ignore[attr-defined]
            self.ev(generator.iter, scope if position == 0 else inner)
            names = {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
            inner.locals |= names
            element = self.elements(generator.iter, scope if position == 0 else inner)
            self.assign(generator.target, element or UNKNOWN, None, inner)
            for condition in generator.ifs:
                self.ev(condition, inner)
        if isinstance(node, ast.DictComp):
            self.ev(node.key, inner)
            self.ev(node.value, inner)
        else:
            self.ev(node.elt, inner)  # type: ignore[attr-defined]
        return UNKNOWN

    def subscript_of(self, node: ast.Subscript, base: Value, scope: Scope) -> Value:
        """`globals()["name"]`, `vars(module)["name"]`, `module.__dict__["name"]`: a lookup."""
        namespaces = [atom for atom in base if atom == GLOBALS or atom[0] == "ns"]
        if not namespaces:
            return UNKNOWN
        self.subscripted(node, base, scope)
        keys = self.possible_strings(node.slice, scope)
        if not keys:
            return UNKNOWN
        values = []
        for atom in namespaces:
            for key in keys:
                values.append(self.module.lookup(key) if atom == GLOBALS
                              else self.attribute_of(atom[1], key))
        return _union(values)

    def attribute_of(self, base: Value, name: str) -> Value:
        if name == "__dict__":
            return frozenset({("ns", base)})
        atoms: set[Atom] = set()
        for atom in base:
            kind = atom[0]
            if kind == "ref":
                atoms.add(("ref", f"{atom[1]}.{name}"))
            elif kind == "made":
                if name in CALL_ATTRIBUTES:
                    atoms.add(("ref", f"{atom[1]}.{name}"))
                elif name == "__class__":
                    atoms.add(("ref", atom[1]))
                else:
                    atoms.add(("attr", f"{atom[1]}.{name}"))
            elif kind == "attr":
                atoms.add(("attr", f"{atom[1]}.{name}"))
            else:
                atoms.add(UNK)
        return frozenset(atoms) or UNKNOWN

    def call(self, node: ast.Call, scope: Scope) -> Value:
        function = self.ev(node.func, scope, outer=False)
        for argument in node.args:
            self.ev(argument, scope)
        for keyword in node.keywords:
            self.ev(keyword.value, scope)
        if not self.special_call(node, function, scope):
            self.seen(node.func, function, scope)
        self.called(node, function, scope)
        result: set[Atom] = set()
        for atom in function:
            if atom == ("ref", "builtins.getattr") and len(node.args) >= 2:
                names = self.possible_strings(node.args[1], scope)
                if names:
                    base = self.quiet_value(node.args[0], scope)
                    found = _union(self.attribute_of(base, name) for name in names)
                    self.seen(node, found, scope)
                    result |= found
                    if len(node.args) > 2:
                        result |= self.quiet_value(node.args[2], scope)
                else:
                    result.add(UNK)
            elif atom == ("ref", "builtins.globals"):
                result.add(GLOBALS)
            elif atom == ("ref", "builtins.vars") and len(node.args) == 1:
                result.add(("ns", self.quiet_value(node.args[0], scope)))
            elif atom in (("ref", "builtins.__import__"), ("ref", "importlib.import_module")):
                names = self.possible_strings(node.args[0], scope) if node.args else None
                if names:
                    top = atom[1] == "builtins.__import__" and not any(
                        k.arg == "fromlist" for k in node.keywords) and len(node.args) < 4
                    for name in names:
                        self.imported(node, name, scope)
                        result.add(("ref", name.split(".")[0] if top else name))
                else:
                    result.add(UNK)
            elif atom == ("ref", "builtins.type") and len(node.args) == 1:
                base = self.quiet_value(node.args[0], scope)
                result |= {("ref", a[1]) if a[0] == "made" else UNK for a in base}
            elif atom == ("ref", "functools.partial") and node.args:
                result |= self.quiet_value(node.args[0], scope)
            elif atom in (("ref", "builtins.exec"), ("ref", "builtins.eval")):
                self.run_literal_code(node, scope)
                result.add(UNK)
            elif atom[0] == "ref":
                result.add(("made", atom[1]))
            elif atom[0] == "own":
                own = self.owns.get(atom[1])
                result.add(("ownmade", atom[1]) if own and isinstance(own.node, ast.ClassDef)
                           else UNK)
            else:
                result.add(UNK)
        return frozenset(result) or UNKNOWN

    def run_literal_code(self, node: ast.Call, scope: Scope) -> None:
        """`exec("...")` / `eval("...")` of a string literal: read the string as code here."""
        code = self.possible_strings(node.args[0], scope) if node.args else None
        if not code or len(code) != 1:
            return
        tree = _parse(next(iter(code)), node.lineno - 1)
        if tree is None:
            return
        for child in ast.walk(tree):
            child._cell = getattr(node, "_cell", 0)  # type: ignore[attr-defined]
        self.run(tree.body, scope)

    def possible_strings(self, node: ast.expr, scope: Scope) -> set[str] | None:
        return _strings(node, self.strings)


def _walrus_scope(scope: Scope) -> Scope:
    """`:=` in a comprehension binds in the enclosing function or module."""
    while scope.comprehension and scope.parent is not None:
        scope = scope.parent
    return scope


def _pattern_names(pattern: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(pattern):
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


# --- strings known without running -------------------------------------------------------------

@functools.lru_cache(maxsize=4)  # read-only afterwards, shared by both readers
def _string_bindings(parsed: tuple[ParsedCell, ...]) -> dict[str, set[str] | None]:
    """For each name, every string it is ever bound to, when all its bindings are string
    literals (or loops over literal lists of them); None when any binding is something else."""
    nodes = [node for cell in parsed for node in cell.bindings]
    sequences: dict[str, set[str] | None] = {}  # names of literal lists of strings
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values = _literal_strings(node.value, {})
                    known = sequences.get(target.id, set())
                    sequences[target.id] = None if values is None or known is None \
                        else known | values
    bindings: dict[str, set[str] | None] = {}

    def bind(name: str, values: set[str] | None) -> None:
        if name in bindings and bindings[name] is None:
            return
        if values is None:
            bindings[name] = None
        else:
            bindings[name] = (bindings.get(name) or set()) | values

    for node in nodes:
        targets: list[tuple[ast.AST, set[str] | None]] = []
        if isinstance(node, ast.Assign):
            values = _strings(node.value, {})
            targets = [(t, values) for t in node.targets]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [(node.target, None)]
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            targets = [(node.target, _literal_strings(node.iter, sequences))]
            if isinstance(node.target, ast.Tuple):  # for name, tensor in [("w", w), ...]
                targets = list(zip(node.target.elts, _columns(node.iter, len(node.target.elts)),
                                   strict=True))
        elif isinstance(node, ast.NamedExpr):
            targets = [(node.target, _strings(node.value, {}))]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            for arg in (arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                        + [a for a in (arguments.vararg, arguments.kwarg) if a]):
                bind(arg.arg, None)
            if not isinstance(node, ast.Lambda):
                bind(node.name, None)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [(item.optional_vars, None) for item in node.items
                       if item.optional_vars is not None]
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.ExceptHandler)):
            for name in _bound_by(node):
                bind(name, None)
        for target, values in targets:
            if isinstance(target, ast.Name):
                bind(target.id, values)
            else:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bind(name.id, None)
    return bindings


_BINDING_NODES = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor,
                  ast.comprehension, ast.NamedExpr, ast.FunctionDef, ast.AsyncFunctionDef,
                  ast.Lambda, ast.With, ast.AsyncWith, ast.Import, ast.ImportFrom, ast.ClassDef,
                  ast.ExceptHandler)


def _bound_by(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    name = getattr(node, "name", None)
    return [name] if isinstance(name, str) else []


def _columns(node: ast.expr, width: int) -> list[set[str] | None]:
    """Per position, the strings of a literal list of tuples (None where not all strings)."""
    rows = node.elts if isinstance(node, (ast.Tuple, ast.List)) else None
    if not rows or not all(isinstance(row, ast.Tuple) and len(row.elts) == width
                           for row in rows):
        return [None] * width
    columns: list[set[str] | None] = []
    for position in range(width):
        values: set[str] | None = set()
        for row in rows:
            strings = _strings(row.elts[position], {})  # type: ignore[attr-defined]
            values = None if strings is None or values is None else values | strings
        columns.append(values)
    return columns


def _literal_strings(node: ast.expr, sequences: dict[str, set[str] | None]) -> set[str] | None:
    """The strings of a literal tuple, list or set of them (or a name only ever bound to
    such literals)."""
    if isinstance(node, ast.Name):
        values = sequences.get(node.id)
        return set(values) if values else None
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        values: set[str] = set()
        for element in node.elts:
            strings = _strings(element, {})
            if strings is None:
                return None
            values |= strings
        return values
    return None


def _strings(node: ast.expr, bindings: dict[str, set[str] | None]) -> set[str] | None:
    """Every string `node` can evaluate to, when that is known from the source alone."""
    if isinstance(node, ast.Constant):
        return {node.value} if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        values = bindings.get(node.id)
        return set(values) if values else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _product(_strings(node.left, bindings), _strings(node.right, bindings))
    if isinstance(node, ast.JoinedStr):
        result: set[str] | None = {""}
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.conversion not in (-1, ord("s")) or part.format_spec is not None:
                    return None
                result = _product(result, _strings(part.value, bindings))
            else:
                result = _product(result, _strings(part, bindings))
        return result
    return None


def _product(left: set[str] | None, right: set[str] | None) -> set[str] | None:
    if left is None or right is None or len(left) * len(right) > MAX_STRINGS:
        return None
    return {a + b for a, b in itertools.product(left, right)}


def _constant_prefix(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _constant_prefix(node.left)
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return ""


# Names that `from MODULE import *` binds to torch's recurrent built-ins.
_LAYERS = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell", "RNNBase", "RNNCellBase")
_KERNELS = ("rnn_tanh", "rnn_relu", "rnn_tanh_cell", "rnn_relu_cell", "gru", "gru_cell", "lstm",
            "lstm_cell", "quantized_gru", "quantized_lstm", "quantized_gru_cell",
            "quantized_lstm_cell", "quantized_rnn_tanh_cell", "quantized_rnn_relu_cell",
            "mkldnn_rnn_layer", "miopen_rnn", "_cudnn_rnn")
STAR_EXPORTS = {"torch.nn": _LAYERS, "torch.nn.modules": _LAYERS,
                "torch.nn.modules.rnn": _LAYERS, "torch": _KERNELS, "torch._VF": _KERNELS}


def _snippet(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - a display nicety only
        return "this"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- the built-in inside the student's function --------------------------------------------------

class _ForbiddenReader(_Reader):
    def __init__(self, parsed: tuple[ParsedCell, ...], words: tuple[str, ...]) -> None:
        super().__init__(parsed)
        self.pattern = re.compile("|".join(re.escape(w) for w in words if w), re.IGNORECASE) \
            if any(words) else None
        self.queue: list[Own] = []
        self.reached_classes: list[Own] = []
        self.attribute_names: set[str] = set()

    def builtin(self, path: str) -> bool:
        """A torch name whose own name (not a module's, like torch.nn.utils.rnn) is one of
        the recurrent built-ins'."""
        parts = path.split(".")
        if parts[0] != "torch" or self.pattern is None:
            return False
        return any(part != "rnn" and self.pattern.search(part) for part in parts[1:])

    def all_builtin(self, value: Value, kinds: tuple[str, ...]) -> str | None:
        paths = [atom[1] for atom in value if atom[0] in kinds and self.builtin(atom[1])]
        return paths[0] if paths and len(paths) == len(value) else None

    def called(self, node: ast.Call, function: Value, scope: Scope) -> None:
        path = self.all_builtin(function, ("ref", "made"))
        if path is None:
            return
        shown = _snippet(node.func)
        kind = "a built-in " if any(atom[0] == "made" for atom in function) else ""
        self.report(node, f"calls {shown}(...)" + (f" ({kind}{path})" if shown != path else ""))

    def seen(self, node: ast.AST, value: Value, scope: Scope) -> None:
        if self.reporting:
            for atom in value:
                if atom[0] in ("own", "ownmade"):
                    self.reach(atom[1])

    def attribute(self, node: ast.Attribute, base: Value, scope: Scope) -> None:
        if self.reporting:
            self.attribute_names.add(node.attr)
            for atom in base:
                if atom[0] in ("own", "ownmade"):
                    self.reach(atom[1])

    def reach(self, key: int) -> None:
        own = self.owns.get(key)
        if own is None:
            return
        if isinstance(own.node, ast.ClassDef):
            if own not in self.reached_classes:
                self.reached_classes.append(own)
                for base in own.bases:
                    self.reach(base)
        elif id(own.node) not in self.read_functions and own not in self.queue:
            self.queue.append(own)

    def read(self, function: str) -> list[str]:
        self.read_cells()
        self.reporting = True
        targets = [atom[1] for atom in self.module.env.get(function, ()) if atom[0] == "own"]
        if not targets:  # rebound by something unreadable (a decorator call...): every def
            targets = [key for key, own in self.owns.items()
                       if isinstance(own.node, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and own.node.name == function and own.scope is self.module]
        for key in targets:
            self.reach(key)
        while True:
            while self.queue:
                self.read_function(self.queue.pop(0))
            for own in self.reached_classes:
                for name, methods in own.methods.items():
                    if name in IMPLICIT_METHODS or name in self.attribute_names:
                        for method in methods:
                            if id(method) not in self.read_functions:
                                self.queue.append(self.owns[id(method)])
            if not self.queue:
                return self.findings()


def forbidden_uses(notebook, function: str, forbidden: tuple[str, ...]) -> list[str]:
    """Places where `function` — or a helper, class or nested function it reaches — calls one of
    torch's recurrent built-ins: a torch name containing one of `forbidden` (the exercise's
    words, e.g. "rnn", "gru", "lstm"), resolved through the notebook's imports and assignments.
    A name the student defined themselves is never the built-in. Code this reader cannot
    follow finds nothing: the run-time guard decides then."""
    try:
        return _ForbiddenReader(parse_cells(notebook), forbidden).read(function)
    except (RecursionError, MemoryError, TooComplex):
        return []


# --- code that needs a human to look at it ------------------------------------------------------

GC_WALK = "walks the process's objects (gc)"
RAW_MEMORY = "raw memory or C calls (ctypes)"
DISPATCHER = "reaches torch's operator registrations or internals"
FRAMES = "reads the frames of running code"
MODULES = "manipulates loaded modules or imports"
GRADER = "reaches into the grader itself"
BUILTINS = "reaches or patches Python's builtins"
HIDDEN = "runs code that cannot be read in the notebook"
PROCESSES = "starts, stops or signals processes"
PICKLE = "loads objects or code from bytes"
LIMITS = "changes the process's resource limits"
SHELL = "runs a shell command"
WRITES_CODE = "writes a Python file, to run code that is not in the notebook"
CODE_OBJECTS = "reads or replaces a function's code or variables"

# Dotted names, each covering everything under it; `*` stands for any letters in a name.
REVIEW_PATHS: dict[str, str] = {
    "gc.get_objects": GC_WALK, "gc.get_referrers": GC_WALK, "gc.get_referents": GC_WALK,
    "gc.garbage": GC_WALK, "gc.callbacks": GC_WALK,
    "ctypes": RAW_MEMORY, "_ctypes": RAW_MEMORY, "cffi": RAW_MEMORY,
    "numpy.ctypeslib": RAW_MEMORY, "mmap": RAW_MEMORY,
    "torch.library": DISPATCHER, "torch._library": DISPATCHER, "torch._ops": DISPATCHER,
    "torch._C": DISPATCHER, "torch._dispatch": DISPATCHER, "torch._decomp": DISPATCHER,
    "torch._subclasses": DISPATCHER, "torch.utils._python_dispatch": DISPATCHER,
    "torch.ops.load_library": DISPATCHER, "torch.classes.load_library": DISPATCHER,
    "torch.utils.cpp_extension": DISPATCHER,
    "sys._getframe": FRAMES, "sys._current_frames": FRAMES, "sys._current_exceptions": FRAMES,
    "sys.settrace": FRAMES, "sys.setprofile": FRAMES, "sys.monitoring": FRAMES,
    "sys.addaudithook": FRAMES, "threading.settrace*": FRAMES,
    "threading.setprofile*": FRAMES, "inspect.currentframe": FRAMES, "inspect.stack": FRAMES,
    "inspect.trace": FRAMES, "inspect.getouterframes": FRAMES,
    "inspect.getinnerframes": FRAMES, "inspect.getframeinfo": FRAMES,
    "inspect.getgeneratorlocals": FRAMES, "inspect.getcoroutinelocals": FRAMES,
    "inspect.getclosurevars": FRAMES, "traceback.walk_stack": FRAMES,
    "traceback.walk_tb": FRAMES,
    "sys.modules": MODULES, "sys.meta_path": MODULES, "sys.path_hooks": MODULES,
    "sys.path_importer_cache": MODULES, "importlib": MODULES, "zipimport": MODULES,
    "runpy": HIDDEN, "code": HIDDEN, "codeop": HIDDEN, "types.CodeType": HIDDEN,
    "types.FunctionType": HIDDEN,
    "grader": GRADER, "rnn_grader": GRADER,
    "subprocess": PROCESSES, "multiprocessing": PROCESSES, "torch.multiprocessing": PROCESSES,
    "concurrent.futures.ProcessPoolExecutor": PROCESSES,
    "concurrent.futures.process": PROCESSES, "pty": PROCESSES, "pexpect": PROCESSES,
    "signal": PROCESSES, "asyncio.create_subprocess_*": PROCESSES,
    "asyncio.subprocess": PROCESSES, "os.fork*": PROCESSES, "os.system": PROCESSES,
    "os.popen": PROCESSES, "os.exec*": PROCESSES, "os.spawn*": PROCESSES,
    "os.posix_spawn*": PROCESSES, "os.kill*": PROCESSES, "os.setsid": PROCESSES,
    "os.setpgid": PROCESSES, "os.setpgrp": PROCESSES, "os.register_at_fork": PROCESSES,
    "os.unshare": PROCESSES, "os.setns": PROCESSES, "os.pidfd_*": PROCESSES,
    "os.getppid": PROCESSES, "os.set*id": PROCESSES, "os.chroot": PROCESSES,
    "resource.setrlimit": LIMITS, "resource.prlimit": LIMITS,
    "pickle.load*": PICKLE, "pickle.Unpickler": PICKLE, "_pickle": PICKLE, "cPickle": PICKLE,
    "marshal": PICKLE, "dill": PICKLE, "cloudpickle": PICKLE, "shelve": PICKLE,
    "joblib.load": PICKLE, "copyreg": PICKLE, "pandas.read_pickle": PICKLE,
    "weakref.finalize._registry": GC_WALK,
    **dict.fromkeys((f"IPython.get_ipython.{name}" for name in (
        "user_ns", "user_global_ns", "user_module", "events", "ast_transformers",
        "input_transformers_post", "input_transformers_cleanup", "input_transformer_manager",
        "run_cell", "run_code", "run_ast_nodes", "ex", "ev", "push", "kernel",
        "register_magic_function", "magics_manager", "define_macro", "set_hook",
        "set_custom_exc", "showtraceback")), "changes how the notebook's cells are run"),
}
_REVIEW_PATTERNS = tuple(
    (re.compile(re.escape(rule).replace(r"\*", "[A-Za-z0-9_]*") + r"(\..*)?"), reason)
    for rule, reason in REVIEW_PATHS.items())
# The same modules under other names.
MODULE_ALIASES = {"posix": "os", "nt": "os", "_thread": "threading",
                  "_posixsubprocess": "subprocess", "_signal": "signal", "_imp": "importlib",
                  "_frozen_importlib": "importlib", "_frozen_importlib_external": "importlib"}
# Under an entry above but harmless here: the recurrent kernels (the built-in rule's business
# inside the student's function, allowed elsewhere) and package metadata.
REVIEW_ALLOWED = ("torch._C._VariableFunctions", "torch._VF", "importlib.metadata")
# Attribute names that reach frames, code objects, the object graph or the dispatcher,
# whatever they are looked up on.
REVIEW_ATTRIBUTES: dict[str, str] = {
    **dict.fromkeys(("f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace",
                     "tb_frame", "gi_frame", "cr_frame", "ag_frame", "_getframe"), FRAMES),
    **dict.fromkeys(("__globals__", "__code__", "__closure__", "cell_contents", "co_code"),
                    CODE_OBJECTS),
    **dict.fromkeys(("__builtins__", "__import__"), BUILTINS),
    "__subclasses__": "walks every class of the process (__subclasses__)",
    "__self__": "reaches the object or module behind a function (__self__)",
    "__getattribute__": "looks attributes up around the usual route (__getattribute__)",
    **dict.fromkeys(("get_objects", "get_referrers", "get_referents"), GC_WALK),
    **dict.fromkeys(("ctypes", "ctypeslib", "pythonapi"), RAW_MEMORY),
    **dict.fromkeys(("_op_dk", "py_kernels", "python_key_table", "_dispatch_cache",
                     "redispatch", "_registration_handles"), DISPATCHER),
}
# String constants that are such names (getattr(x, "f_back"), operator.attrgetter(...)).
REVIEW_STRINGS: dict[str, str] = {
    **REVIEW_ATTRIBUTES,
    **dict.fromkeys(("ctypes", "_ctypes", "gc", "builtins", "grader", "subprocess",
                     "multiprocessing", "marshal", "pty", "runpy", "importlib"),
                    "names a module that reaches the process's machinery"),
}
# Assigning an attribute of an imported module or class patches it; these are settings.
PATCH_ALLOWED = ("torch.backends", "matplotlib", "pandas.options", "IPython")
SHELL_ALLOWED = re.compile(r"\s*(pip3?|conda|mamba|nvidia-smi|ls|pwd|echo|rnn-grader|"
                           r"python3? -m pip)(\s|$)")
HARMLESS_MAGICS = frozenset({
    "matplotlib", "config", "xmode", "env", "set_env", "load", "autoreload", "aimport",
    "reset", "reset_selective", "who", "whos", "who_ls", "pwd", "history", "precision",
    "pdb", "debug", "tb", "pprint", "page", "pinfo", "pinfo2", "psearch", "pdef", "pdoc",
    "psource", "pfile", "magic", "lsmagic", "quickref", "doctest_mode", "automagic",
    "autocall", "colors", "html", "HTML", "javascript", "js", "latex", "markdown", "svg",
    "capture", "time", "timeit", "prun", "notebook", "store", "recall", "rerun", "save",
    "dhist", "dirs", "bookmark", "cd", "pushd", "popd", "logstart", "logstop", "logon",
    "logoff", "logstate", "clear", "cls", "writefile", "load_ext", "reload_ext",
    "unload_ext", "run", "watermark", "memit", "mprun", "lprun", "tensorboard",
})
SHELL_MAGICS = frozenset({"system", "sx", "bash", "sh", "script", "python", "python2",
                          "python3", "pypy", "perl", "ruby", "alias", "sc"})


@functools.lru_cache(maxsize=8192)  # a batch's notebooks name the same few hundred paths
def _review_path(path: str) -> str | None:
    head, _, rest = path.partition(".")
    path = MODULE_ALIASES.get(head, head) + ("." + rest if rest else "")
    if any(path == allowed or path.startswith(allowed + ".") for allowed in REVIEW_ALLOWED):
        return None
    for pattern, reason in _REVIEW_PATTERNS:
        if pattern.fullmatch(path):
            return reason
    return EXERCISE_CODE if head in _exercise_packages() else None


EXERCISE_CODE = "reaches into an installed exercise's own code (its reference and mistakes)"


@functools.cache
def _exercise_packages() -> frozenset[str]:
    """The top-level packages of the installed exercises (a course's own included): their
    modules hold a reference the student's process could import and call."""
    from grader import exercises

    return frozenset(exercises.target(name).partition(":")[0].partition(".")[0]
                     for name in exercises.names())


def _safe_prefix(prefix: str) -> bool:
    """A computed name starting with `prefix` cannot be one of the names reviewed."""
    return bool(prefix) and not prefix.startswith("_") and not any(
        sensitive.startswith(prefix) for sensitive in REVIEW_STRINGS)


def _patch_allowed(path: str) -> bool:
    return any(path == allowed or path.startswith(allowed + ".") for allowed in PATCH_ALLOWED)


class _ReviewReader(_Reader):
    def __init__(self, parsed: tuple[ParsedCell, ...]) -> None:
        super().__init__(parsed)
        self.reporting = True
        self.flags: dict[tuple[int, int, str], str] = {}

    def read(self) -> list[str]:
        self.read_cells()
        for own in list(self.owns.values()):
            if not isinstance(own.node, ast.ClassDef):
                self.read_function(own)
        return [f"cell {cell}, line {line}: {shown}: {reason}"
                for (cell, line, reason), shown in sorted(self.flags.items())]

    def flag(self, node: ast.AST, shown: str, reason: str) -> None:
        key = (getattr(node, "_cell", 0), getattr(node, "lineno", 0), reason)
        self.flags.setdefault(key, shown)

    # hooks
    def imported(self, node: ast.AST, path: str, scope: Scope) -> None:
        path = path.removesuffix(".*")
        reason = BUILTINS if path == "builtins" or path.startswith("builtins.") \
            else _review_path(path)
        if reason:
            self.flag(node, f"imports {path}", reason)

    def named(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.flag(node, node.id, BUILTINS)

    def subscripted(self, node: ast.Subscript, base: Value, scope: Scope) -> None:
        keys = self.possible_strings(node.slice, scope)
        if keys is None:
            if not _safe_prefix(_constant_prefix(node.slice)):
                self.flag(node, _snippet(node), "a name computed at run time looked up in a "
                          "namespace")
            return
        for key in keys:
            reason = REVIEW_STRINGS.get(key)
            if reason:
                self.flag(node, _snippet(node), reason)
                return

    def seen(self, node: ast.AST, value: Value, scope: Scope) -> None:
        for atom in value:
            if atom[0] in ("ref", "attr"):
                reason = _review_path(atom[1])
                if reason:
                    self.flag(node, _snippet(node), reason)
                    return

    def attribute(self, node: ast.Attribute, base: Value, scope: Scope) -> None:
        reason = REVIEW_ATTRIBUTES.get(node.attr)
        if reason:
            self.flag(node, f".{node.attr}", reason)

    def stored(self, node: ast.Attribute, base: Value, scope: Scope) -> None:
        for atom in base:
            if atom[0] == "ref" and not _patch_allowed(f"{atom[1]}.{node.attr}"):
                self.flag(node, f"{_snippet(node)} = ...", f"patches {atom[1]}.{node.attr}")
                return

    def string(self, node: ast.AST, text: str) -> None:
        reason = REVIEW_STRINGS.get(text)
        if reason:
            self.flag(node, repr(text), reason)
        elif "/proc/" in text or text.startswith("/proc") or "/dev/mem" in text:
            self.flag(node, repr(text[:40]), "reads processes or memory through /proc")

    def special_call(self, node: ast.Call, function: Value, scope: Scope) -> bool:
        magic = _magic_call(node)
        if magic is not None:
            self.magic(node, magic)
            return True
        handled = False
        for atom in function:
            name = atom[1] if atom[0] in ("ref", "attr") else ""
            short = name.rpartition(".")[2]
            if name in ("builtins.exec", "builtins.eval", "builtins.compile"):
                handled = True
                if not node.args or self.possible_strings(node.args[0], scope) is None:
                    self.flag(node, f"{short}(...)", f"{HIDDEN}: the code is computed at run "
                              "time")
            elif name in ("builtins.__import__", "importlib.import_module"):
                handled = True
                if not node.args or self.possible_strings(node.args[0], scope) is None:
                    self.flag(node, f"{short}(...)", "imports a module whose name is "
                              "computed at run time")
            elif name in ("builtins.getattr", "builtins.setattr", "builtins.delattr",
                          "builtins.hasattr"):
                handled = True
                self.computed_attribute(node, short, scope)
            elif name in ("builtins.object.__setattr__", "builtins.type.__setattr__",
                          "builtins.object.__delattr__", "builtins.type.__delattr__"):
                base = self.quiet_value(node.args[0], scope) if node.args else UNKNOWN
                if any(atom[0] == "ref" for atom in base):
                    self.flag(node, _snippet(node), "patches a library's module or class")
            elif name == "builtins.open":
                self.opened(node, scope)
            elif name in ("torch.load", "numpy.load"):
                self.unpickling_load(node, name)
        return handled

    def computed_attribute(self, node: ast.Call, function: str, scope: Scope) -> None:
        if len(node.args) < 2:
            return
        names = self.possible_strings(node.args[1], scope)
        shown = f"{function}({_snippet(node.args[0], 30)}, {_snippet(node.args[1], 30)})"
        if names is None:
            if not _safe_prefix(_constant_prefix(node.args[1])):
                self.flag(node, shown, "an attribute whose name is computed at run time")
            return
        base = self.quiet_value(node.args[0], scope)
        for name in sorted(names):
            reason = REVIEW_ATTRIBUTES.get(name)
            for atom in base:
                if reason is None and atom[0] in ("ref", "attr"):
                    path = f"{atom[1]}.{name}"
                    reason = _review_path(path)
                    if reason is None and atom[0] == "ref" and function in (
                            "setattr", "delattr") and not _patch_allowed(path):
                        reason = f"patches {path}"
            if reason:
                self.flag(node, shown, reason)
                return

    def opened(self, node: ast.Call, scope: Scope) -> None:
        paths = self.possible_strings(node.args[0], scope) if node.args else None
        modes = self.possible_strings(node.args[1], scope) if len(node.args) > 1 else {"r"}
        for keyword in node.keywords:
            if keyword.arg == "mode":
                modes = self.possible_strings(keyword.value, scope)
        writing = modes is None or any(set(mode) & set("wax+") for mode in modes)
        if writing and paths and any(p.endswith((".py", ".pyc", ".so", ".pth")) for p in paths):
            self.flag(node, _snippet(node), WRITES_CODE)

    def unpickling_load(self, node: ast.Call, name: str) -> None:
        option = "weights_only" if name == "torch.load" else "allow_pickle"
        safe = name == "torch.load"  # torch.load defaults to weights_only=True
        for keyword in node.keywords:
            if keyword.arg == option:
                value = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
                safe = value is True if name == "torch.load" else value is False
        if not safe:
            self.flag(node, _snippet(node), PICKLE)

    def magic(self, node: ast.Call, magic: tuple[str, str, str, str | None]) -> None:
        method, name, line, body = magic
        if method in ("system", "getoutput") or name in SHELL_MAGICS:
            command = body if body is not None else line
            parts = [part for part in re.split(r"&&|\|\||;|\n", command) if part.strip()]
            if body is not None and name not in ("bash", "sh", "system", "sx") or not all(
                    SHELL_ALLOWED.match(part) for part in parts):
                shown = f"!{command.strip()[:40]}" if method in ("system", "getoutput") \
                    else f"%{'%' if body is not None else ''}{name}"
                self.flag(node, shown, SHELL)
        elif name == "run":
            self.flag(node, f"%run {line.strip()[:40]}", HIDDEN)
        elif name == "writefile":
            target = line.split()[-1] if line.split() else ""
            if target.endswith((".py", ".pth", ".so")):
                self.flag(node, f"%%writefile {target}", WRITES_CODE)
        elif name in ("load_ext", "reload_ext"):
            for module in line.split():
                self.imported(node, module, self.module)
        elif name not in HARMLESS_MAGICS:
            self.flag(node, f"%{name}", "a magic whose effect the grader does not know")


def review_findings(notebook) -> list[str]:
    """Code anywhere in the notebook that reaches for the process's machinery or hides what it
    runs, for an instructor to look at: "cell C, line L: what: why". Never executes it."""
    try:
        return _ReviewReader(parse_cells(notebook)).read()
    except (RecursionError, MemoryError, TooComplex):
        return ["the notebook's code is too large or too deeply nested to be read for review"]
