"""Words of a message and the normal form names are compared in.

A token keeps its character span, so the parser can report which words it
understood and which it did not. Name normal form: lower case, only letters
and digits, leading zeros of digit runs dropped ("GPT-4o" -> "gpt4o",
"user-01" -> "user1", "claude-3.5" -> "claude35").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_TOKEN: Final = re.compile(r"[\w$%][\w.\-/:@$%]*")
_TRAILING: Final = ".-/:@"
_NON_ALNUM: Final = re.compile(r"[^a-z0-9]+")
_DIGITS: Final = re.compile(r"\d+")
_PARTS: Final = re.compile(r"[a-z]+|\d+[a-z]?")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the message, as typed, with its span in the message."""

    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        """The word in lower case."""
        return self.text.lower()


def tokenize(text: str) -> tuple[Token, ...]:
    """The words of ``text``; trailing punctuation and a possessive ``'s`` are dropped."""
    tokens = []
    for match in _TOKEN.finditer(text):
        word = match.group().rstrip(_TRAILING)
        if not word:
            continue
        start = match.start()
        if word.lower() == "s" and start > 0 and text[start - 1] in "'\u2019":
            continue
        tokens.append(Token(word, start, start + len(word)))
    return tuple(tokens)


def name_key(text: str) -> str:
    """The normal form two spellings of one name share."""
    flat = _NON_ALNUM.sub("", text.lower())
    return _DIGITS.sub(lambda m: str(int(m.group())), flat)


def name_parts(text: str) -> tuple[str, ...]:
    """A name's parts: letter runs and number runs (a number keeps one trailing letter, "4o")."""
    return tuple(
        _DIGITS.sub(lambda m: str(int(m.group())), part) for part in _PARTS.findall(text.lower())
    )
