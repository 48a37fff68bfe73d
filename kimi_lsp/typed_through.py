"""Typed-through reuse: when the user types what a suggestion predicted, the rest of that prediction answers
the next request, without a new one to the engine.

A prediction is anchored where it was asked for (`Anchor`): the document text the model continued (`stem`:
everything before the cursor, less the whitespace that healing left for the model to write) and the text after
the cursor. A later snapshot of the same document follows the prediction when it is the same document with
text inserted at that point and the cursor right after it: `typed` returns what was inserted, counted from the
stem, with line breaks as the model writes them ("\\n"). The prediction serves the snapshot while it starts
with that (`rest` is what is left to suggest), or, while it is still streaming, while it could still start
with it (`may_serve`). An identical request (same version and cursor) is the case with nothing typed.

Pure functions over immutable values; no I/O, no engine, no LSP.
"""

from __future__ import annotations

from dataclasses import dataclass

from .snapshot import DocumentSnapshot


@dataclass(slots=True, frozen=True)
class Anchor:
    """Where a prediction was asked for. `mode` holds whatever else shapes the model's answer (profile,
    sampling, single line): a prediction made in another mode serves no request."""

    uri: str
    version: int
    offset: int  # the cursor
    stem: str  # the document before the cursor, less the healed whitespace (the text the model continued)
    after: str  # the document after the cursor
    mode: tuple[object, ...] = ()

    def same_request(self, snapshot: DocumentSnapshot) -> bool:
        """The same document version and cursor: an identical request."""
        return (snapshot.uri, snapshot.version, snapshot.offset) == (self.uri, self.version, self.offset)


def anchor(snapshot: DocumentSnapshot, tail: str, mode: tuple[object, ...] = ()) -> Anchor:
    """The anchor of a prediction asked for at `snapshot`'s cursor, whose prompt left out `tail` (healing's
    whitespace, with "\\n" line breaks: the document may hold "\\r\\n")."""
    text, offset = snapshot.text, snapshot.offset
    cut = offset - len(tail)
    if tail.startswith("\n") and cut > 0 and text[cut - 1 : cut + 1] == "\r\n":
        cut -= 1
    return Anchor(snapshot.uri, snapshot.version, offset, text[:cut], text[offset:], mode)


def typed(anchor: Anchor, snapshot: DocumentSnapshot) -> str | None:
    """What the model's text must start with to serve `snapshot`: the text between the anchor's stem and the
    snapshot's cursor, line breaks as "\\n". None when the snapshot is another document, or differs from
    the anchor's other than by text inserted at its cursor with the cursor after it."""
    text, offset = snapshot.text, snapshot.offset
    if snapshot.uri != anchor.uri or offset < len(anchor.stem) or len(text) - offset != len(anchor.after):
        return None
    if not text.startswith(anchor.stem) or not text.endswith(anchor.after):
        return None
    inserted = text[len(anchor.stem) : offset]
    return inserted.replace("\r\n", "\n") if "\r" in inserted else inserted


def rest(prediction: str, typed_text: str) -> str | None:
    """What the prediction still suggests once `typed_text` was typed: the text after it, or None when the
    prediction does not start with it."""
    return prediction[len(typed_text) :] if prediction.startswith(typed_text) else None


def may_serve(partial: str, typed_text: str) -> bool:
    """While streaming: whether a prediction that so far reads `partial` can still serve `typed_text` (it
    starts with it, or may once more arrives)."""
    return partial.startswith(typed_text) or typed_text.startswith(partial)
