"""Reader for the MiniZinc data of the B2B meeting scheduling benchmark (Bofill et al. 2022)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

_TOKEN = re.compile(r"\[\||\|\]|-?\d+|[\[\]{}|,]|\S")
_SESSIONS = (1, 2, 3)

_Value: TypeAlias = "int | list[_Value] | frozenset[int]"


class DznError(ValueError):
    """The text is not a well-formed B2B instance."""


@dataclass(frozen=True, slots=True)
class Instance:
    """One B2B instance; participants, meetings and slots keep the file's 1-based numbers."""

    n_business: int
    n_tables: int
    n_slots: int
    n_morning: int
    requested: tuple[tuple[int, int, int], ...]
    fixed: tuple[int, ...]
    forbidden: tuple[frozenset[int], ...]
    precedences: tuple[frozenset[int], ...]

    @property
    def n_meetings(self) -> int:
        """Number of requested meetings."""
        return len(self.requested)

    def meetings_of(self, participant: int) -> list[int]:
        """The 1-based meetings a participant takes part in, in file order."""
        return [m for m, (a, b, _) in enumerate(self.requested, start=1) if participant in (a, b)]

    def allowed_slots(self, meeting: int) -> list[int]:
        """Slots a meeting may take: its session or fixed slot, minus forbidden slots."""
        a, b, session = self.requested[meeting - 1]
        if session == 1:
            candidates = list(range(1, self.n_morning + 1))
        elif session == 2:
            candidates = list(range(self.n_morning + 1, self.n_slots + 1))
        else:
            candidates = list(range(1, self.n_slots + 1))
        fixed = self.fixed[meeting - 1]
        if fixed:
            # A fixed slot must still respect the session (the checker holds it to both).
            candidates = [fixed] if fixed in candidates else []
        banned = self.forbidden[a - 1] | self.forbidden[b - 1]
        return [s for s in candidates if s not in banned]


def _parse_value(tokens: list[str], pos: int) -> tuple[_Value, int]:
    """Parse one value (int, set, 1-d array or 2-d array) starting at tokens[pos]."""
    tok = tokens[pos]
    if tok == "{":
        items: set[int] = set()
        pos += 1
        while tokens[pos] != "}":
            if tokens[pos] != ",":
                items.add(int(tokens[pos]))
            pos += 1
        return frozenset(items), pos + 1
    if tok == "[|":
        rows: list[_Value] = []
        row: list[_Value] = []
        pos += 1
        while tokens[pos] != "|]":
            if tokens[pos] == "|":
                rows.append(row)
                row = []
            elif tokens[pos] != ",":
                row.append(int(tokens[pos]))
            pos += 1
        if row:
            rows.append(row)
        return rows, pos + 1
    if tok == "[":
        out: list[_Value] = []
        pos += 1
        while tokens[pos] != "]":
            if tokens[pos] == ",":
                pos += 1
                continue
            value, pos = _parse_value(tokens, pos)
            out.append(value)
        return out, pos + 1
    try:
        return int(tok), pos + 1
    except ValueError:
        raise DznError(f"unexpected token {tok!r}") from None


def _assignments(text: str) -> dict[str, _Value]:
    """Split MiniZinc data into name -> value, dropping % comments."""
    text = re.sub(r"%[^\n]*", "", text)
    out: dict[str, _Value] = {}
    for statement in text.split(";"):
        if not statement.strip():
            continue
        name, sep, body = statement.partition("=")
        if not sep:
            raise DznError(f"not an assignment: {statement.strip()[:40]!r}")
        tokens = _TOKEN.findall(body)
        try:
            value, end = _parse_value(tokens, 0)
        except IndexError:
            raise DznError(f"{name.strip()}: unterminated value") from None
        if end != len(tokens):
            raise DznError(f"{name.strip()}: trailing text after the value")
        out[name.strip()] = value
    return out


def _int(data: dict[str, _Value], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int):
        raise DznError(f"{name} must be an integer")
    return value


def _list(data: dict[str, _Value], name: str) -> list[_Value]:
    value = data.get(name)
    if not isinstance(value, list):
        raise DznError(f"{name} must be an array")
    return value


def _sets(data: dict[str, _Value], name: str) -> list[frozenset[int]]:
    values = _list(data, name)
    if not all(isinstance(v, frozenset) for v in values):
        raise DznError(f"{name} must be an array of sets")
    return [v for v in values if isinstance(v, frozenset)]


def parse_dzn(text: str) -> Instance:
    """Parse and cross-check one instance; redundant arrays must agree with `requested`."""
    data = _assignments(text)
    n_business = _int(data, "nBusiness")
    n_meetings = _int(data, "nMeetings")
    n_slots = _int(data, "nTotalSlots")
    n_morning = _int(data, "nMorningSlots")
    requested: list[tuple[int, int, int]] = []
    for m, row in enumerate(_list(data, "requested"), start=1):
        if not (isinstance(row, list) and len(row) == 3 and all(isinstance(v, int) for v in row)):
            raise DznError(f"requested row {m} must hold three integers")
        a, b, session = (v for v in row if isinstance(v, int))
        if not (1 <= a <= n_business and 1 <= b <= n_business) or a == b:
            raise DznError(f"meeting {m}: bad participants {a}, {b}")
        if session not in _SESSIONS:
            raise DznError(f"meeting {m}: session {session} not in 1, 2, 3")
        requested.append((a, b, session))
    if len(requested) != n_meetings:
        raise DznError(f"requested has {len(requested)} rows, nMeetings says {n_meetings}")

    counts = [0] * n_business
    members: list[set[int]] = [{1} for _ in range(n_business)]
    for m, (a, b, _) in enumerate(requested, start=1):
        for p in (a, b):
            counts[p - 1] += 1
            members[p - 1].add(m + 1)
    if _list(data, "nMeetingsBusiness") != counts:
        raise DznError("nMeetingsBusiness disagrees with requested")
    listed = _sets(data, "meetingsxBusiness") if "meetingsxBusiness" in data else members
    if [set(s) for s in listed] != members:
        raise DznError("meetingsxBusiness disagrees with requested")

    fixed_raw = _list(data, "fixed")
    if len(fixed_raw) != n_meetings or not all(isinstance(v, int) for v in fixed_raw):
        raise DznError("fixed must hold one integer per meeting")
    fixed = tuple(v for v in fixed_raw if isinstance(v, int))
    if any(not 0 <= v <= n_slots for v in fixed):
        raise DznError("fixed slot out of range")

    forbidden = [s - {0} for s in _sets(data, "forbidden")]
    if len(forbidden) != n_business:
        raise DznError("forbidden must hold one set per participant")
    if any(not 1 <= v <= n_slots for s in forbidden for v in s):
        raise DznError("forbidden slot out of range")

    # The published files list fewer precedence sets than meetings (all empty), so pad.
    precedences = _sets(data, "precedences") if "precedences" in data else []
    if len(precedences) > n_meetings:
        raise DznError("more precedence sets than meetings")
    precedences += [frozenset()] * (n_meetings - len(precedences))
    if any(not 1 <= v <= n_meetings for s in precedences for v in s):
        raise DznError("precedence refers to an unknown meeting")

    return Instance(
        n_business=n_business,
        n_tables=_int(data, "nTables"),
        n_slots=n_slots,
        n_morning=n_morning,
        requested=tuple(requested),
        fixed=fixed,
        forbidden=tuple(forbidden),
        precedences=tuple(precedences),
    )


def load_dzn(path: Path) -> Instance:
    """Read and parse one .dzn file."""
    return parse_dzn(path.read_text(encoding="utf-8"))
