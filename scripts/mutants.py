"""The mutants of one module: every single-token change the mutation run tries.

A site is a node of the module's syntax tree and a way to change it; a mutant is the module's
source with that one change (``ast.unparse`` of the changed tree, so comments go but meaning is
exact). What is never changed: docstrings, annotations, strings, floats (timeouts and pauses:
their mutants are timing-only), log calls, and lines marked ``# pragma: no mutate``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

COMPARE = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BINARY = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
SYMBOL = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip
QUIET_CALLS = {"log", "logger", "_log", "LOG"}


@dataclass(frozen=True)
class Site:
    index: int  # the node's place in walk order
    kind: str
    arg: int  # which operator of a comparison
    line: int
    what: str  # "== -> !=", for people


def _skipped_lines(source: str) -> set[int]:
    return {n for n, text in enumerate(source.splitlines(), 1) if "pragma: no mutate" in text}


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node in a fixed order, leaving out annotations and docstrings."""
    out: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        out.append(node)
        body = getattr(node, "body", None)
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "type_comment", "decorator_list"):
                continue
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if not isinstance(item, ast.AST):
                    continue
                if name == "body" and i == 0 and body is value and _is_docstring(item):
                    continue
                if isinstance(item, ast.If) and _is_type_checking(item):
                    continue
                visit(item)

    visit(tree)
    return out


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _quiet(call: ast.Call) -> bool:
    f = call.func
    named = isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
    return named and f.value.id in QUIET_CALLS


def _changes(node: ast.AST) -> list[tuple[str, int, str]]:
    """(kind, arg, what) for each way this node can be changed."""
    out: list[tuple[str, int, str]] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            to = COMPARE[type(op)]
            out.append(("compare", i, f"{SYMBOL[type(op)]} -> {SYMBOL[to]}"))
    elif isinstance(node, ast.BoolOp):
        to = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append(("boolop", 0, f"{SYMBOL[type(node.op)]} -> {SYMBOL[to]}"))
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        out.append(("binop", 0, f"{SYMBOL[type(node.op)]} -> {SYMBOL[BINARY[type(node.op)]]}"))
    elif isinstance(node, ast.AugAssign) and type(node.op) in (ast.Add, ast.Sub):
        to = "-=" if isinstance(node.op, ast.Add) else "+="
        out.append(("augassign", 0, f"{SYMBOL[type(node.op)]}= -> {to}"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        out.append(("unary", 0, "not x -> x" if isinstance(node.op, ast.Not) else "-x -> x"))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append(("constant", 0, f"{node.value} -> {not node.value}"))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out.append(("constant", 0, f"{node.value} -> {node.value + 1}"))
    elif isinstance(node, (ast.If, ast.While)) and not (
        isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)
    ):
        out.append(("negate", 0, "if x -> if not x"))
    elif isinstance(node, ast.Raise):
        out.append(("delete", 0, "raise ... -> pass"))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not _quiet(node.value):
        out.append(("delete", 0, "call(...) -> pass"))
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append(("return", 0, "return x -> return None"))
    elif isinstance(node, (ast.Break, ast.Continue)):
        out.append(("loop", 0, "break <-> continue"))
    return out


def sites(source: str) -> list[Site]:
    tree = ast.parse(source)
    skip = _skipped_lines(source)
    out = []
    for index, node in enumerate(_nodes(tree)):
        line = getattr(node, "lineno", 0)
        if line in skip:
            continue
        for kind, arg, what in _changes(node):
            out.append(Site(index, kind, arg, line, what))
    return out


class _Swap(ast.NodeTransformer):
    def __init__(self, target: ast.AST, site: Site) -> None:
        self.target, self.site = target, site

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            return super().visit(node)
        s, kind = self.site, self.site.kind
        if kind == "compare":
            assert isinstance(node, ast.Compare)
            node.ops[s.arg] = COMPARE[type(node.ops[s.arg])]()
        elif kind == "boolop":
            assert isinstance(node, ast.BoolOp)
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif kind == "binop":
            assert isinstance(node, ast.BinOp)
            node.op = BINARY[type(node.op)]()
        elif kind == "augassign":
            assert isinstance(node, ast.AugAssign)
            node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        elif kind == "unary":
            assert isinstance(node, ast.UnaryOp)
            return node.operand
        elif kind == "constant":
            assert isinstance(node, ast.Constant)
            v = node.value
            node.value = (not v) if isinstance(v, bool) else v + 1
        elif kind == "negate":
            assert isinstance(node, (ast.If, ast.While))
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        elif kind == "delete":
            return ast.Pass()
        elif kind == "return":
            assert isinstance(node, ast.Return)
            node.value = ast.Constant(value=None)
        elif kind == "loop":
            return ast.Continue() if isinstance(node, ast.Break) else ast.Break()
        return node


def mutate(source: str, site: Site) -> str:
    tree = ast.parse(source)
    target = _nodes(tree)[site.index]
    changed = _Swap(target, site).visit(tree)
    return ast.unparse(ast.fix_missing_locations(changed))
