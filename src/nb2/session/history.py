"""The edit tree of a session: ``Turn`` (one node) and ``History`` (the tree, in creation order,
drawn by ``repr`` and as thumbnails in a notebook)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .result import _short

if TYPE_CHECKING:
    from .result import Result


@dataclass(eq=False)
class Turn:
    """One node of the edit tree."""

    number: int
    result: Result
    kind: str  # generate | edit | upscale
    parent: Turn | None = None
    children: list[Turn] = field(default_factory=list)


class History:
    """The edit tree of a session, in creation order. ``repr`` draws it."""

    def __init__(self, turns: list[Turn], current: Turn | None) -> None:
        self.turns = turns
        self.current = current.result if current else None

    @property
    def roots(self) -> list[Result]:
        return [t.result for t in self.turns if t.parent is None]

    def children(self, result: Result) -> list[Result]:
        return [c.result for t in self.turns if t.result == result for c in t.children]

    def path(self, result: Result) -> list[Result]:
        """From the root down to ``result``: the chain of edits that made it."""
        turn = next(t for t in self.turns if t.result == result)
        chain = []
        while turn is not None:
            chain.append(turn.result)
            turn = turn.parent
        return chain[::-1]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([t.result for t in self.turns])

    def __len__(self) -> int:
        return len(self.turns)

    def __getitem__(self, number: int) -> Result:
        """The result of turn ``number`` (1-based, as shown) or a negative index."""
        if number < 0:
            return self.turns[number].result
        for t in self.turns:
            if t.number == number:
                return t.result
        raise IndexError(f"no turn #{number}; this session has {len(self.turns)}")

    def _repr_html_(self) -> str:
        # here, not at the top: the HTML views load on the first display (~10 ms of import)
        from ..views.html import history_html

        return history_html(self)

    def __repr__(self) -> str:
        lines = [f"History ({len(self.turns)} turns)"]

        def walk(turn: Turn, prefix: str, last: bool, root: bool) -> None:
            r = turn.result
            w, h = r.size
            mark = "  <- current" if r == self.current else ""
            branch = "" if root else ("└── " if last else "├── ")
            kind = turn.kind
            if kind == "chain":  # a step on another model: say which
                kind = f"chain -> {r.record.get('model', '?').split('/')[-1]}"
            text = f" {_short(r.params.prompt)!r}" if r.params.prompt else ""
            lines.append(f"{prefix}{branch}#{turn.number} {kind} {w}x{h}{text}{mark}")
            inner = prefix + ("" if root else ("    " if last else "│   "))
            for i, child in enumerate(turn.children):
                walk(child, inner, i == len(turn.children) - 1, False)

        for t in self.turns:
            if t.parent is None:
                walk(t, "", True, True)
        return "\n".join(lines)
