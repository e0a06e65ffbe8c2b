"""What the model must return, as Pydantic models: sent as the JSON schema of the request
(`output_config.format`) and used again to validate the reply.

Validators repair what is harmless to repair (a TL;DR a few words too long, a fourth key point,
stray whitespace) and reject what is not (a missing field, a score outside 0-10): a rejected
reply is retried once, then the extractive fallback is used.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

# The digest card's limits: short enough to skim in Slack, and they bound a card's output tokens
# (app/llm/prompts.py sizes max_tokens from them). The prompt states them, the schema describes
# them, and the validators cut anything longer.
TLDR_MAX_WORDS = 20
KEY_POINTS = 3
KEY_POINT_MAX_WORDS = 10
TAGS_MIN, TAGS_MAX = 2, 3
TAG_MAX_CHARS = 40
_SPACE = re.compile(r"\s+")


def one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def cut_words(text: str, limit: int) -> str:
    words = one_line(text).split(" ")
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(",;:") + "…"


def _nonempty(value: str) -> str:
    value = one_line(value)
    if not value:
        raise ValueError("empty text")
    return value


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CardSummary(_Output):
    """A digest card: the TL;DR, three key points, a few tags."""

    tldr: str = Field(description=f"One sentence, at most {TLDR_MAX_WORDS} words.")
    key_points: list[str] = Field(
        description=f"Exactly {KEY_POINTS} key points, each at most {KEY_POINT_MAX_WORDS} words."
    )
    tags: list[str] = Field(description=f"{TAGS_MIN} to {TAGS_MAX} short lowercase topic tags.")

    @field_validator("tldr")
    @classmethod
    def _tldr(cls, value: str) -> str:
        return cut_words(_nonempty(value), TLDR_MAX_WORDS)

    @field_validator("key_points")
    @classmethod
    def _points(cls, value: list[str]) -> list[str]:
        points = [one_line(p) for p in value if one_line(p)]
        if len(points) < KEY_POINTS:
            raise ValueError(f"need {KEY_POINTS} key points")
        return [cut_words(p, KEY_POINT_MAX_WORDS) for p in points[:KEY_POINTS]]

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        tags: list[str] = []
        for tag in value:
            tag = one_line(tag).lower().lstrip("#")[:TAG_MAX_CHARS]
            if tag and tag not in tags:
                tags.append(tag)
        return tags[:TAGS_MAX]


class _PaperKey(_Output):
    arxiv_id: str = Field(description="The id attribute of the paper element, copied exactly.")


class CardEntry(CardSummary, _PaperKey):
    """One paper's card inside a grouped reply (the id comes first in the schema)."""


class Cards(_Output):
    """Digest cards for the papers given, one per paper."""

    # Each card is validated on its own: a bad one lands in `rejected` (by paper id) and is
    # retried alone, without discarding the others.

    cards: list[CardEntry] = Field(description="One card per paper, in any order.")
    # Filled by validation, never part of the schema the model sees.
    rejected: SkipJsonSchema[dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _each(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("cards"), list):
            return data  # not even the outer shape: the whole reply is invalid
        good: list[CardEntry] = []
        bad: dict[str, str] = {}
        for item in data["cards"]:
            try:
                good.append(CardEntry.model_validate(item))
            except ValidationError as exc:
                key = item.get("arxiv_id") if isinstance(item, dict) else None
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())) or "card"
                bad[str(key)] = f"{where}: {first.get('msg')}"
        return {"cards": good, "rejected": bad}


class DeepSummary(_Output):
    """The "summarize this" answer: five short paragraphs."""

    problem: str = Field(description="The problem the paper addresses and why it is hard.")
    method: str = Field(description="What the authors do, concretely.")
    results: str = Field(description="Main results with the paper's own numbers.")
    limitations: str = Field(description="Limitations, stated or evident.")
    why_it_matters: str = Field(description="Why a practitioner or researcher should care.")

    @field_validator("problem", "method", "results", "limitations", "why_it_matters")
    @classmethod
    def _text(cls, value: str) -> str:
        return _nonempty(value)[:1500]


class Grade(_Output):
    arxiv_id: str
    score: int = Field(ge=0, le=10, description="0 = unrelated, 10 = exactly on topic.")
    reason: str = Field(description="One line, at most 25 words.")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return cut_words(_nonempty(value), 30)


class Grades(_Output):
    """Relevance grades for several papers against one topic."""

    grades: list[Grade] = Field(description="One grade per paper, in any order.")


class Answer(_Output):
    """An answer to a question about one paper, from its text only."""

    answer: str = Field(description="The answer, or 'The paper does not say.'")
    quotes: list[str] = Field(description="Up to three short verbatim quotes that support it.")
    answerable: bool = Field(description="False when the paper's text does not answer it.")

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str) -> str:
        return value.strip()[:3000] or "The paper does not say."

    @field_validator("quotes")
    @classmethod
    def _quotes(cls, value: list[str]) -> list[str]:
        return [one_line(q)[:500] for q in value if one_line(q)][:3]


class TopicExpansion(_Output):
    """A topic name widened into a search query."""

    synonyms: list[str] = Field(description="Up to six phrases meaning the same research topic.")
    categories: list[str] = Field(description="Up to three arXiv categories, e.g. cs.CL.")

    @field_validator("synonyms")
    @classmethod
    def _synonyms(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for phrase in value:
            phrase = one_line(phrase.replace('"', " "))[:80]
            if phrase and phrase.lower() not in (p.lower() for p in out):
                out.append(phrase)
        return out[:6]

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        valid = [c.strip() for c in value if re.fullmatch(r"[a-z-]+(\.[A-Za-z-]+)?", c.strip())]
        return valid[:3]
