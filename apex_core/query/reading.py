"""Reading a message: which names, days, measures, dimensions and kinds of question it holds.

:func:`read` does all the text work and returns a :class:`Reading` of plain
signals; :mod:`apex_core.query.parser` turns those into a query. Steps:
correct typos of the parser's own words, find dates, find the user's names,
then match the word tables of :mod:`apex_core.query.words` against the
*masked* message (names and dates replaced by ``<model>``, ``<date>``...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Final

from apex_core.query import words
from apex_core.query.dates import DateMention, find_dates
from apex_core.query.model import MEASURES, Dimension, Direction, Lever, Measure, Ranking
from apex_core.query.name_index import MODEL_SHAPED, MODEL_WORD, match_phrase
from apex_core.query.text import Token, tokenize
from apex_core.query.vocabulary import NameMatch, Vocabulary, find_names

TYPO_CUTOFF: Final = 0.8
SHORT_TYPO_CUTOFF: Final = 0.85
"""Three-letter words need a closer match ("wek" -> "week", "lst" -> "last")."""
TYPO_MIN_LENGTH: Final = 3
_ALPHA: Final = re.compile(r"^[a-z]+$")
_CORRECTABLE: Final = sorted(words.KNOWN_WORDS)
_IDENTIFIER: Final = re.compile(r"^(?=.*[a-z])[a-z0-9]+(?:[-_.][a-z0-9]+)+$")
_NAME_BEFORE: Final = frozenset({"for", "on", "of", "from", "by", "to"})
"""A hyphenated word after these is a name ("costs for team-alpha"), elsewhere maybe
just English ("is it cost-effective")."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What a message says, before it becomes a query."""

    text: str
    masked: str
    names: tuple[NameMatch, ...]
    dates: tuple[DateMention, ...]
    corrections: tuple[tuple[str, str], ...]
    """(typed, read as) for each corrected typo."""
    unknown: tuple[str, ...]
    """Names the message uses that the usage does not have, each said as a sentence."""
    measures: tuple[Measure, ...]
    cost_words: bool
    breakdowns: tuple[Dimension, ...]
    ranking: Ranking | None
    superlative: Direction | None
    why: bool
    what_if: bool
    analysis: bool
    lever: Lever | None
    target: str | None
    """The what-if's target model (a stored name, a catalog name or a model-shaped word)."""
    batch_filter: str | None
    """``true``/``false`` when the message says batch (or interactive) requests only."""
    follow_up_start: bool
    only: bool
    """"only for anthropic": the names replace the previous question's, not add to them."""
    on_topic_words: bool

    @property
    def empty(self) -> bool:
        """True when nothing in the message is about usage."""
        return not (
            self.names
            or self.dates
            or self.measures
            or self.cost_words
            or self.breakdowns
            or self.ranking
            or self.why
            or self.what_if
            or self.analysis
            or self.batch_filter
            or self.on_topic_words
            or self.unknown
        )


def read(text: str, vocabulary: Vocabulary) -> Reading:
    """Read ``text`` against the user's ``vocabulary``."""
    corrected, corrections = _correct_typos(text, vocabulary)
    tokens = tokenize(corrected)
    dates = find_dates(corrected, last_day=vocabulary.last_day)
    taken = frozenset(
        i for i, t in enumerate(tokens) if any(d.start < t.end and t.start < d.end for d in dates)
    )
    known = frozenset(i for i, t in enumerate(tokens) if t.lower in words.KNOWN_WORDS)
    names = find_names(tokens, vocabulary, taken=taken, known=known)
    pieces = _mask(tokens, taken, names)
    masked = " ".join(piece for piece, _ in pieces)
    what_if = bool(words.WHAT_IF.search(masked))
    target, target_span, names, unresolved = (
        _target(pieces, names, vocabulary, tokens) if what_if else (None, range(0), names, None)
    )
    unknown = _unknown(tokens, taken | frozenset(target_span), names)
    if unresolved is not None:
        unknown += (f'"{unresolved}" is not a model in your usage or the price list',)
    batch_filter = _batch_filter(masked)
    measures, rest = _measures(words.BATCH_FILTER.sub(" ", masked) if batch_filter else masked)
    cost_words = any(w in words.COST_WORDS for w in rest.split())
    if measures and cost_words and "cost" not in measures:
        measures = ("cost", *measures)
    return Reading(
        text=text,
        masked=masked,
        names=names,
        dates=dates,
        corrections=corrections,
        unknown=unknown,
        measures=measures,
        cost_words=cost_words,
        breakdowns=_breakdowns(pieces, rest),
        ranking=_ranking(masked),
        superlative="top"
        if words.MOST.search(masked)
        else "bottom"
        if words.LEAST.search(masked)
        else None,
        why=bool(words.WHY.search(masked)),
        what_if=what_if,
        analysis=bool(words.ANALYSIS.search(masked)),
        lever=_lever(masked) if what_if else None,
        target=target,
        batch_filter=batch_filter,
        follow_up_start=bool(words.FOLLOW_UP_START.search(masked)),
        only=bool(words.ONLY.search(masked)),
        on_topic_words=bool(words.ON_TOPIC.search(masked)),
    )


def _correct_typos(text: str, vocabulary: Vocabulary) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``text`` with misspelt parser words replaced ("spnd" -> "spend"), and the corrections."""
    out: list[str] = []
    corrections: list[tuple[str, str]] = []
    position = 0
    for token in tokenize(text):
        word = token.lower
        if (
            len(word) < TYPO_MIN_LENGTH
            or not _ALPHA.match(word)
            or word in words.KNOWN_WORDS
            or any(
                match_phrase(word, vocabulary.index(d), fuzzy=False)
                for d in ("provider", "model", "feature")
            )
        ):
            continue
        cutoff = SHORT_TYPO_CUTOFF if len(word) == TYPO_MIN_LENGTH else TYPO_CUTOFF
        close = get_close_matches(word, _CORRECTABLE, n=1, cutoff=cutoff)
        if close:
            out.append(text[position : token.start] + close[0])
            position = token.end
            corrections.append((token.text, close[0]))
    out.append(text[position:])
    return "".join(out), tuple(corrections)


def _mask(
    tokens: tuple[Token, ...], taken: frozenset[int], names: tuple[NameMatch, ...]
) -> list[tuple[str, int]]:
    """The message as (word or placeholder, first token index) pieces."""
    starts = {m.start: m for m in names}
    pieces: list[tuple[str, int]] = []
    index = 0
    while index < len(tokens):
        if index in starts:
            match = starts[index]
            pieces.append((words.NAME_MARK.format(match.dimension), index))
            index = match.end
        elif index in taken:
            if not pieces or pieces[-1][0] != words.DATE_MARK:
                pieces.append((words.DATE_MARK, index))
            index += 1
        else:
            pieces.append((tokens[index].lower, index))
            index += 1
    return pieces


def _target(
    pieces: list[tuple[str, int]],
    names: tuple[NameMatch, ...],
    vocabulary: Vocabulary,
    tokens: tuple[Token, ...],
) -> tuple[str | None, range, tuple[NameMatch, ...], str | None]:
    """The what-if's target model: the last model named right after "use", "switch to"...

    A stored model, else a model of ``vocabulary.catalog_models`` (up to four words,
    "claude haiku"), else one model-shaped word taken as typed ("gpt-4.1-mini").
    Returns the target, its token indexes, the names without it, and a model word
    that could not be resolved ("haiku" with no Haiku in the usage or the catalog).
    """
    for position in range(len(pieces) - 1, -1, -1):
        piece, index = pieces[position]
        if not words.TARGET_VERB.search(" ".join(p for p, _ in pieces[:position])):
            continue
        if piece == words.NAME_MARK.format("model"):
            match = next(m for m in names if m.start == index)
            rest = tuple(m for m in names if m is not match)
            return match.values[0], range(match.start, match.end), rest, None
        if piece.startswith("<"):
            continue
        run = [index]
        for later, _ in pieces[position + 1 : position + 4]:
            nxt = run[-1] + 1
            if later.startswith("<") or later in words.KNOWN_WORDS or nxt >= len(tokens):
                break
            run.append(nxt)
        for size in range(len(run), 0, -1):
            phrase = " ".join(tokens[i].text for i in run[:size])
            found = match_phrase(phrase, vocabulary.catalog_index, fuzzy=False)
            if found is not None:
                return found[0][0], range(run[0], run[0] + size), names, None
        if MODEL_SHAPED.match(tokens[index].text):
            return tokens[index].lower, range(index, index + 1), names, None
        if MODEL_WORD.match(tokens[index].text):
            return None, range(0), names, tokens[index].text
    return None, range(0), names, None


def _measures(masked: str) -> tuple[tuple[Measure, ...], str]:
    """The measures named, and the masked text with their words blanked out."""
    found: set[Measure] = set()
    rest = masked
    for pattern, measures in words.MEASURE_PHRASES:
        if pattern.search(rest):
            found.update(measures)
            rest = pattern.sub(" ", rest)
    return tuple(m for m in MEASURES if m in found), rest


def _breakdowns(pieces: list[tuple[str, int]], rest: str) -> tuple[Dimension, ...]:
    """Dimensions to group by, in order; a dimension word next to a name of it ("the
    support-chat feature") is part of that name, not a breakdown."""
    found: list[Dimension] = []
    marks = [p for p, _ in pieces]
    for position, piece in enumerate(marks):
        dimension = words.DIMENSION_WORDS.get(piece)
        if dimension is None or piece not in rest.split():
            continue
        neighbours = marks[max(position - 1, 0) : position] + marks[position + 1 : position + 2]
        if words.NAME_MARK.format(dimension) in neighbours:
            continue
        if dimension not in found:
            found.append(dimension)
    for pattern, dimension in words.BREAKDOWN_PHRASES:
        if pattern.search(rest) and dimension not in found:
            found.append(dimension)
    return tuple(found)


def _ranking(masked: str) -> Ranking | None:
    for pattern, direction in ((words.TOP, "top"), (words.BOTTOM, "bottom")):
        match = pattern.search(masked)
        if match:
            count = match.group("n")
            n = words.RANK_NUMBERS.get(count) or int(count)
            return Ranking("top" if direction == "top" else "bottom", min(max(n, 1), 100))
    return None


def _lever(masked: str) -> Lever | None:
    plain = re.sub(r"<\w+>", " ", masked)
    return next((lever for pattern, lever in words.LEVERS if pattern.search(plain)), None)


def _batch_filter(masked: str) -> str | None:
    match = words.BATCH_FILTER.search(masked)
    if match is None:
        return None
    return "true" if match.group("value").startswith("batch") else "false"


def _unknown(
    tokens: tuple[Token, ...],
    taken: frozenset[int],
    names: tuple[NameMatch, ...],
) -> tuple[str, ...]:
    """Names in the message that are not in the usage: model-, provider- or id-shaped words."""
    named = {i for m in names for i in range(m.start, m.end)}
    out: list[str] = []
    for index, token in enumerate(tokens):
        word = token.lower
        if index in taken or index in named or word in words.KNOWN_WORDS:
            continue
        if MODEL_SHAPED.match(word):
            out.append(f'"{token.text}" is not a model in your usage')
        elif word in words.PROVIDER_WORDS:
            out.append(f'"{token.text}" is not a provider in your usage')
        elif (
            _IDENTIFIER.match(word)
            and not all(part in words.KNOWN_WORDS for part in re.split(r"[-_.]", word))
            and (
                re.search(r"[\d_]", word) or (index > 0 and tokens[index - 1].lower in _NAME_BEFORE)
            )
        ):
            out.append(f'"{token.text}" is not a name in your usage')
    return tuple(dict.fromkeys(out))
