"""Incremental detokenization with stop strings: emit only text that can no longer change or be cut."""

from __future__ import annotations

from collections.abc import Sequence


class TextStream:
    """Feeds generated token ids, returns the new text that is safe to show.

    Text is held back while it ends in an incomplete UTF-8 character or in a prefix of a stop
    string; once a stop string appears, the text is cut before it and `stopped` turns true.
    """

    def __init__(self, tokenizer, stop: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.ids: list[int] = []
        self.text = ""
        self.emitted = 0
        self.stopped = False

    def add(self, token_id: int) -> str:
        """Append one token; return the newly safe text ('' when nothing is)."""
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        self.text = text
        cut = self._stop_position()
        if cut is not None:
            self.text = text[:cut]
            self.stopped = True
            return self._emit(cut)
        return self._emit(len(text) - self._held_suffix(text))

    def finish(self) -> str:
        """All text not yet emitted (at the end of generation)."""
        return self._emit(len(self.text))

    def _emit(self, end: int) -> str:
        if end <= self.emitted:
            return ""
        piece, self.emitted = self.text[self.emitted : end], end
        return piece

    def _stop_position(self) -> int | None:
        if not self.stop:
            return None
        longest = max(len(s) for s in self.stop)
        window_start = max(0, self.emitted - longest)
        found = [i for s in self.stop if (i := self.text.find(s, window_start)) >= 0]
        return min(found) if found else None

    def _held_suffix(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop string."""
        held = 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(text)), held, -1):
                if text.endswith(s[:n]):
                    held = n
                    break
        return held
