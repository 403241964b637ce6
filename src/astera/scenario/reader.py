"""Streaming reader of scenario documents (``astera-scenario/1``, vectors FORMAT §2).

A scenario's ``actions`` array can be far larger than memory should hold (a 100 MB file of
lab paths); every other top-level key (the *header*: assets, strategies, pools, users) is
small. The reader walks the top-level object with the standard library's C JSON decoder,
one value at a time, over a buffer of bounded size: it yields each action as it is decoded
and keeps none of them. Nothing but the header and the current action is ever held.

A replay reads the file twice: :func:`header_and_users` returns the header and every user
name the actions introduce (FORMAT §2: in order of first appearance; every state lists every
user, so they are needed before the first action), wherever the keys sit in the document;
:func:`actions` then yields the actions. The first pass costs about what ``json.load`` does;
a file of at most :data:`KEEP_BYTES` may keep its actions from it (:func:`keeps_actions`), so
a small replay decodes them once: memory stays bounded by that size, not the file's.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

#: Characters read per refill; a value longer than this is read in growing slices.
CHUNK = 1 << 20
#: Longest single value (an action, or one header key) the reader accepts, in characters:
#: it bounds the buffer, also while it looks for the end of a malformed value.
MAX_VALUE = 1 << 27
#: Largest plain (not gzip) file whose actions the first pass keeps for the replay, in bytes.
KEEP_BYTES = 1 << 22
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class ScenarioFormatError(ValueError):
    """The file is not a well-formed JSON object: ``msg`` at ``lineno``, ``colno`` (from 1)."""

    def __init__(self, msg: str, lineno: int, colno: int) -> None:
        super().__init__(f"{msg}: line {lineno} column {colno}")
        self.msg = msg
        self.lineno = lineno
        self.colno = colno


class _Cursor:
    """A position in a JSON text read from a file in chunks; consumed text is dropped."""

    __slots__ = ("f", "buf", "pos", "eof", "lines", "carry")

    def __init__(self, f: IO[str]) -> None:
        self.f = f
        self.buf = ""
        self.pos = 0
        self.eof = False
        # For error positions: line breaks in the text dropped before buf[0], and the
        # characters of buf[0]'s line among them.
        self.lines = 0
        self.carry = 0

    def _fill(self, size: int = CHUNK) -> bool:
        """Read more text; False at the end of the file."""
        if self.eof:
            return False
        more = self.f.read(size)
        if not more:
            self.eof = True
            return False
        breaks = self.buf.count("\n", 0, self.pos)
        self.lines += breaks
        self.carry = self.pos - self.buf.rfind("\n", 0, self.pos) - 1 + (0 if breaks else self.carry)
        self.buf = self.buf[self.pos :] + more
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ("" at the end), not consumed."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, chars: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            self.fail(f"expected one of {chars!r}")
        self.pos += 1
        return c

    def value(self) -> Any:
        """Decode the next JSON value. A value that runs to the end of the buffer may be cut
        (a number, or an object not yet closed): read more and decode it again."""
        self.peek()
        size = CHUNK
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if len(self.buf) - self.pos < MAX_VALUE and self._fill(size):
                    size *= 2
                    continue
                self.fail(e.msg, e.pos)
            if end == len(self.buf) and len(self.buf) - self.pos < MAX_VALUE and self._fill(size):
                size *= 2
                continue
            self.pos = end
            return obj

    def elements(self) -> Iterator[Any]:
        """The values of the array whose ``[`` was just consumed, and its ``]``.

        The common case, a value and its delimiter well inside the buffer, is decoded in
        place; near the buffer's end it falls back to :meth:`value` and :meth:`expect`.
        """
        if self.peek() == "]":
            self.pos += 1
            return
        decode, blank = _DECODER.raw_decode, _WS.match
        while True:
            buf = self.buf
            try:
                obj, end = decode(buf, self.pos)
                sep = blank(buf, end).end()  # type: ignore[union-attr]
            except json.JSONDecodeError:
                sep = len(buf)
            if sep < len(buf):  # a delimiter follows: the value was whole
                c = buf[sep]
                if c == ",":
                    self.pos = blank(buf, sep + 1).end()  # type: ignore[union-attr]
                elif c == "]":
                    self.pos = sep + 1
                else:
                    self.pos = sep
                    self.fail("expected ',' or ']'")
            else:
                obj = self.value()
                c = self.expect(",]")
                if c == ",":
                    self.peek()
            yield obj
            if c == "]":
                return

    def fail(self, msg: str, at: int | None = None) -> None:
        """Refuse the document, naming the line and column of ``at`` (default: here)."""
        pos = self.pos if at is None else at
        breaks = self.buf.count("\n", 0, pos)
        colno = pos - self.buf.rfind("\n", 0, pos) + (0 if breaks else self.carry)
        raise ScenarioFormatError(msg, self.lines + breaks + 1, colno)


def _members(f: IO[str]) -> Iterator[tuple[str | None, Any]]:
    """The top-level object's members in document order: ``(key, value)`` for each header
    key, and ``(None, a)`` for each element of ``actions`` (never the array itself)."""
    cur = _Cursor(f)
    cur.expect("{")
    if cur.peek() == "}":
        return
    while True:
        key = cur.value()
        if not isinstance(key, str):
            cur.fail("object keys are strings")
        cur.expect(":")
        if key != "actions":
            yield key, cur.value()
        else:
            cur.expect("[")
            for action in cur.elements():
                yield None, action
        if cur.expect(",}") == "}":
            return


def _open(path: Path) -> IO[str]:
    return gzip.open(path, "rt") if path.suffix == ".gz" else path.open()


def keeps_actions(path: Path) -> bool:
    """Whether the first pass should keep the file's actions: a small uncompressed file."""
    return path.suffix != ".gz" and path.stat().st_size <= KEEP_BYTES


def header_and_users(
    path: Path, user_keys: tuple[str, ...], keep: list[Any] | None = None
) -> tuple[dict[str, Any], list[str], int]:
    """First pass: the header, the names under ``user_keys`` in the actions in order of first
    appearance, and the number of actions; each action is appended to ``keep`` if given."""
    whole = _whole(path) if keep is not None else None
    counted = [0]
    if whole is not None:
        header, kept = whole
        assert keep is not None
        keep += kept
        counted[0] = len(kept)
        actions: Iterable[Any] = kept
    else:
        header = {}
        actions = _stream_actions(path, header, keep, counted)
    names = (
        name for a in actions if isinstance(a, dict) for k in user_keys if isinstance(name := a.get(k), str)
    )
    return header, list(dict.fromkeys(names)), counted[0]


def _stream_actions(
    path: Path, header: dict[str, Any], keep: list[Any] | None, counted: list[int]
) -> Iterator[Any]:
    """The streamed first pass: header keys go into ``header``; the actions are yielded
    (appended to ``keep`` if given, and counted in ``counted[0]``)."""
    with _open(path) as f:
        for key, value in _members(f):
            if key is not None:
                header[key] = value
                continue
            if keep is not None:
                keep.append(value)
            counted[0] += 1
            yield value


def _whole(path: Path) -> tuple[dict[str, Any], list[Any]] | None:
    """A small file's header and actions decoded in one call of the C decoder, or None when
    the streamed reader must read it (not well-formed, not an object, an ``actions`` that is
    not an array, or a key ``"actions"`` written more than once: the streamed reader reads
    every copy, and says where a malformed document goes wrong)."""
    with _open(path) as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or text.count('"actions"') > 1:
        return None
    actions = doc.pop("actions", [])
    return (doc, actions) if isinstance(actions, list) else None


def actions(path: Path) -> Iterator[Any]:
    """Second pass: the actions, one at a time. The file stays open until the iterator is
    exhausted or closed."""
    with _open(path) as f:
        for key, value in _members(f):
            if key is None:
                yield value
