"""Search text → a small query tree → a PostgreSQL tsquery built from bound parameters.

Why not hand the text straight to `websearch_to_tsquery`: it has no grouping, so "LLM OR large
language model, AND search" cannot be said in it, and it reads `LLM+search` as the phrase
"llm search". So we parse the text ourselves (never failing on any input), expand ML acronyms to
OR groups, and build the tsquery in SQL by combining per-term `websearch_to_tsquery` /
`phraseto_tsquery` results with the `&&`, `||` and `!!` tsquery operators. Each term reaches
PostgreSQL only as a bound parameter, and those functions accept any text.

Syntax (a superset of what people type into search boxes): words are ANDed; `+` and `&` also mean
AND; `OR` or `|` between two terms means either; `"quoted phrase"`; `-word` excludes;
parentheses group. Unbalanced quotes and parentheses are tolerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from sqlalchemy import String, bindparam, func, literal_column
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql import ColumnElement, operators
from sqlalchemy.sql.elements import UnaryExpression

from app.errors import UserInputError
from app.search_terms import ACRONYMS, LONG_FORMS, MAX_LONG_FORM_WORDS, key_words

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
# Deeper nesting is flattened rather than refused: nobody means ten levels of parentheses.
MAX_DEPTH = 6

# `english` is a constant, not user input: a literal keeps the plan foldable.
_CONFIG: ColumnElement[Any] = literal_column("'english'::regconfig")
_TOKEN = re.compile(
    r'"(?P<phrase>[^"]*)"?|(?P<open>\()|(?P<close>\))|(?P<or>\|)|(?P<word>[^\s+&|()"]+)'
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")
# A hyphen between letters joins one compound ("retrieval-augmented"); as a phrase of its parts it
# also matches the unhyphenated spelling. "GPT-4" keeps its hyphen: PostgreSQL parses "-4" as a
# number, so splitting it would stop matching the very text it came from.
_INNER_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # lower case, edge punctuation stripped
    phrase: bool = False  # words must be adjacent (quoted, or a known long form)
    # Typed in quotes: required of semantic hits too (app/search_semantic.py). Not part of
    # equality, so a quoted long form and its expansion stay one term.
    quoted: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Node


Node = Term | AnyOf | AllOf | Not


# --- parsing -------------------------------------------------------------------------------


def parse(text: str) -> Node:
    """Parse and expand search text; raises UserInputError when there is nothing to look for."""
    # NUL cannot even be sent to PostgreSQL; other control characters only get in the way.
    text = _CONTROL.sub(" ", text or "").strip()
    if not text:
        raise UserInputError("search text is empty: type some words to look for")
    if len(text) > MAX_QUERY_CHARS:
        raise UserInputError(
            f"search text is too long ({len(text)} characters; at most {MAX_QUERY_CHARS})"
        )
    tokens = _tokenize(text)
    terms = sum(1 for kind, _ in tokens if kind in ("word", "phrase"))
    if terms > MAX_TERMS:
        raise UserInputError(f"too many search terms ({terms}; at most {MAX_TERMS})")
    node, _ = _parse_all(tokens, 0, 0)
    if node is None:
        raise UserInputError(
            f'nothing to search for in {text[:80]!r}: use words, "quoted phrases", '
            "+ between terms for AND, OR between alternatives, -word to exclude"
        )
    if not _has_positive(node):
        raise UserInputError(f"{text[:80]!r} only excludes: add a word to look for")
    return node


def render(node: Node, *, top: bool = True) -> str:
    """The canonical text form, which parses back to the same query."""
    if isinstance(node, Term):
        return f'"{node.text}"' if node.phrase or node.quoted else node.text
    if isinstance(node, Not):
        return "-" + render(node.part, top=False)
    if isinstance(node, AnyOf):
        inner = " OR ".join(render(p, top=False) for p in node.parts)
        return inner if top else f"({inner})"
    inner = " AND ".join(render(p, top=False) for p in node.parts)
    return inner if top else f"({inner})"


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or ""
        if kind == "phrase":
            phrase = " ".join(_clean(w) for w in m.group("phrase").split())
            if phrase.strip():
                tokens.append(("phrase", " ".join(phrase.split())))
        elif kind == "word":
            word = m.group("word")
            negate = word.startswith("-")
            upper = word.upper()
            if upper == "OR":
                tokens.append(("or", ""))
                continue
            if upper == "AND":
                continue
            if negate:
                tokens.append(("not", ""))
            cleaned = _clean(word.lstrip("-"))
            if cleaned:
                tokens.append(("word", cleaned))
        else:
            tokens.append((kind, ""))
    return tokens


def _clean(word: str) -> str:
    return _EDGE_PUNCT.sub("", word).lower()


def _parse_all(tokens: list[tuple[str, str]], pos: int, depth: int) -> tuple[Node | None, int]:
    """A run of terms ANDed together, OR binding tighter; stops at a matching `)`."""
    groups: list[list[Node]] = []
    join_next = False
    while pos < len(tokens):
        kind, _ = tokens[pos]
        if kind == "close":
            pos += 1
            if depth > 0:
                break
            continue  # a stray `)` at top level means nothing
        if kind == "or":
            join_next = bool(groups)
            pos += 1
            continue
        node, pos = _parse_unary(tokens, pos, depth)
        if node is None:
            continue
        if join_next:
            groups[-1].append(node)
        else:
            groups.append([node])
        join_next = False
    parts = [_any_of(g) for g in groups]
    return _all_of(_expand_long_forms(parts)), pos


def _parse_unary(tokens: list[tuple[str, str]], pos: int, depth: int) -> tuple[Node | None, int]:
    negate = False
    while pos < len(tokens) and tokens[pos][0] == "not":  # "- -x" is just x
        negate, pos = not negate, pos + 1
    if pos >= len(tokens) or tokens[pos][0] in ("close", "or"):
        return None, pos
    node, pos = _parse_atom(tokens, pos, depth)
    return (Not(node) if negate and node is not None else node), pos


def _parse_atom(tokens: list[tuple[str, str]], pos: int, depth: int) -> tuple[Node | None, int]:
    kind, value = tokens[pos]
    if kind == "open":
        if depth >= MAX_DEPTH:
            return None, pos + 1
        return _parse_all(tokens, pos + 1, depth + 1)
    if kind == "phrase":
        return Term(value, phrase=" " in value, quoted=True), pos + 1
    if kind == "word":
        return _word(value), pos + 1
    return None, pos + 1


def _word(word: str) -> Node:
    """One typed word: an acronym becomes an OR group with its long forms."""
    forms = ACRONYMS.get(word) or (ACRONYMS.get(word[:-1]) if word.endswith("s") else None)
    if forms:
        acronym = word if word in ACRONYMS else word[:-1]
        return AnyOf((Term(acronym), *(Term(f, phrase=True) for f in forms)))
    if _INNER_HYPHEN.search(word):
        return Term(_INNER_HYPHEN.sub(" ", word), phrase=True)
    return Term(word)


def _expand_long_forms(parts: list[Node]) -> list[Node]:
    """Typed long forms ("large language models") also match their acronym ("LLM")."""
    out: list[Node] = []
    i = 0
    while i < len(parts):
        for size in range(min(MAX_LONG_FORM_WORDS, len(parts) - i), 0, -1):
            run = parts[i : i + size]
            words = _plain_words(run)
            acronym = LONG_FORMS.get(key_words(words)) if words else None
            if acronym is not None:
                # The typed words are one of the long forms (up to plurals), so no need to keep
                # them as typed.
                forms = (Term(f, phrase=True) for f in ACRONYMS[acronym])
                out.append(_any_of([Term(acronym), *forms]))
                i += size
                break
        else:
            out.append(parts[i])
            i += 1
    return out


def _plain_words(run: list[Node]) -> list[str] | None:
    words: list[str] = []
    for node in run:
        if not isinstance(node, Term):
            return None
        words.extend(node.text.split())
    return words


def _any_of(nodes: list[Node]) -> Node:
    flat: list[Node] = []
    for n in nodes:
        for part in n.parts if isinstance(n, AnyOf) else (n,):
            if part not in flat:
                flat.append(part)
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


def _all_of(nodes: list[Node]) -> Node | None:
    flat: list[Node] = []
    for n in nodes:
        for part in n.parts if isinstance(n, AllOf) else (n,):
            if part not in flat:
                flat.append(part)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def _has_positive(node: Node) -> bool:
    """Whether the query asks for something (an OR with an exclude-only branch does not)."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, AnyOf):
        return all(_has_positive(p) for p in node.parts)
    return any(_has_positive(p) for p in node.parts)


# --- SQL -----------------------------------------------------------------------------------


def to_tsquery(node: Node) -> ColumnElement[str]:
    """The tsquery for a parsed query; every piece of text is a bound parameter."""
    if isinstance(node, Term):
        value = node.text
        if not node.phrase and node.text in ACRONYMS:
            # "LLMs" stems to 'llms', not 'llm': ask for both.
            value = f"{node.text} or {node.text}s"
        fn = func.phraseto_tsquery if node.phrase else func.websearch_to_tsquery
        return fn(_CONFIG, bindparam(None, value, type_=String), type_=TSQUERY)
    if isinstance(node, Not):
        return UnaryExpression(
            to_tsquery(node.part).self_group(),
            operator=operators.custom_op("!!"),
            type_=TSQUERY,
        )
    op = "||" if isinstance(node, AnyOf) else "&&"
    parts = [to_tsquery(p).self_group() for p in node.parts]
    return reduce(lambda a, b: a.op(op, return_type=TSQUERY)(b).self_group(), parts)


def any_of(nodes: list[Node]) -> Node:
    """OR several parsed queries together (a topic's query and its expansion)."""
    return _any_of(nodes)


def all_of(nodes: list[Node]) -> Node:
    node = _all_of(nodes)
    assert node is not None
    return node
