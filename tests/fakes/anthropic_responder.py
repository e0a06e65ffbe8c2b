"""The fake Anthropic API's default "model": valid structured output for any request.

It walks the JSON schema the request sent in `output_config.format` and fills each field from
the data in the prompt (the `<paper>` elements, `<topic>`, `<question>`), using the field's name
as a hint: `tldr` is the abstract's first sentence, `key_points` the next three, `grades` and
`cards` one per paper with its `arxiv_id`, `answer` the sentence sharing most words with the
question. The output is deterministic, realistic in length (so token counts mean something), and
copies the data as a gullible model would, which is what the safety tests need. Like a
compliant model, it reads the limits in the schema's field descriptions ("at most 25 words",
"Exactly 3", "2 to 4") and goes right up to them, so token counts are a compliant model's worst
case rather than a lucky short reply.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

_PAPER = re.compile(r'<paper id="([^"]*)">(.*?)</paper>', re.S)
_FIELD = re.compile(r"<(title|abstract|full_text)>(.*?)</\1>", re.S)
_TOPIC = re.compile(r"<topic>(.*?)</topic>", re.S)
_QUESTION = re.compile(r"<question>(.*?)</question>", re.S)
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]{3,}")
_MOST_WORDS = re.compile(r"at most (\d+) words", re.I)
_COUNT = re.compile(r"\b(?:exactly|to) (\d+)\b", re.I)
_STOP = {"this", "that", "with", "from", "which", "their", "these", "paper", "what", "does",
         "about", "there", "have", "were", "into", "using"}  # fmt: skip


@dataclass
class Paper:
    arxiv_id: str
    title: str = ""
    text: str = ""

    @property
    def sentences(self) -> list[str]:
        return [s.strip() for s in _SENT.split(re.sub(r"\s+", " ", self.text)) if s.strip()]


@dataclass
class Context:
    papers: list[Paper] = field(default_factory=list)
    topic: str = ""
    question: str = ""
    paper: Paper | None = None  # the paper an array item is about
    hint: str = ""  # the description of the field being filled, limits included


def request_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [b.get("text", "") for b in content or [] if isinstance(b, dict)]
    return "\n".join(parts)


def context_of(body: dict[str, Any]) -> Context:
    text = request_text(body)
    ctx = Context()
    for arxiv_id, inner in _PAPER.findall(text):
        fields = dict(_FIELD.findall(inner))
        ctx.papers.append(
            Paper(arxiv_id, fields.get("title", "").strip(),
                  (fields.get("full_text") or fields.get("abstract") or "").strip())
        )  # fmt: skip
    if m := _TOPIC.search(text):
        ctx.topic = m.group(1).strip()
    questions = _QUESTION.findall(text)
    ctx.question = questions[-1].strip() if questions else ""
    ctx.paper = ctx.papers[0] if ctx.papers else None
    return ctx


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def _cut(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _limit(pattern: re.Pattern[str], hint: str, default: int) -> int:
    """The highest limit of that kind the field's description states, else `default`."""
    found = [int(n) for n in pattern.findall(hint)]
    return max(found) if found else default


def _best_sentence(ctx: Context) -> tuple[str, int]:
    wanted = _words(ctx.question)
    best, score = "", 0
    for paper in ctx.papers:
        for sentence in paper.sentences:
            overlap = len(wanted & _words(sentence))
            if overlap > score:
                best, score = sentence, overlap
    return best, score


def _string(name: str | None, index: int, ctx: Context) -> str:
    paper = ctx.paper or Paper("", "Untitled", "No text given.")
    sents = paper.sentences or [paper.title or "No text."]
    pick = lambda i: sents[min(i, len(sents) - 1)]  # noqa: E731
    if name == "tldr":
        return _cut(pick(0), _limit(_MOST_WORDS, ctx.hint, 30))
    if name == "key_points":
        return _cut(pick(index + 1), _limit(_MOST_WORDS, ctx.hint, 20))
    if name == "tags":
        words = sorted(_words(paper.title), key=lambda w: (-len(w), w)) or ["research"]
        return words[index % len(words)]
    deep = ["problem", "method", "results", "limitations", "why_it_matters"]
    if name in deep:
        return _cut(pick(deep.index(name)), 45)
    if name == "reason":
        return _cut(f"Addresses {ctx.topic or 'the topic'} through {paper.title.lower()}.", 25)
    if name == "arxiv_id":
        return paper.arxiv_id
    if name == "answer":
        sentence, score = _best_sentence(ctx)
        return sentence if score >= 2 else "The paper does not say."
    if name == "quotes":
        return _best_sentence(ctx)[0]
    if name == "synonyms":
        base = ctx.topic or "topic"
        return [f"{base} methods", f"{base} models", f"neural {base}"][index % 3]
    if name == "categories":
        return ["cs.CL", "cs.LG", "cs.IR"][index % 3]
    return "text"


def _array_len(name: str | None, ctx: Context) -> int:
    if name in ("grades", "cards"):
        return len(ctx.papers)
    if name == "quotes":
        return 1 if _best_sentence(ctx)[1] >= 2 else 0
    if name in ("key_points", "tags"):
        return _limit(_COUNT, ctx.hint, 3)
    return {"synonyms": 3, "categories": 1}.get(name or "", 2)


def generate(schema: dict[str, Any], ctx: Context, *, root: dict[str, Any] | None = None,
             name: str | None = None, index: int = 0) -> Any:  # fmt: skip
    root = root or schema
    if "$ref" in schema:
        schema = root.get("$defs", {})[schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"] or schema["anyOf"]
        return generate(options[0], ctx, root=root, name=name, index=index)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        out = {}
        for key, sub in schema.get("properties", {}).items():
            ctx.hint = sub.get("description", "")
            out[key] = generate(sub, ctx, root=root, name=key, index=index)
        return out
    if kind == "array":
        items = []
        for i in range(_array_len(name, ctx)):
            if name in ("grades", "cards"):
                ctx.paper = ctx.papers[i]
            items.append(generate(schema.get("items", {}), ctx, root=root, name=name, index=i))
        return items
    if kind == "integer":
        if name == "score" and ctx.paper is not None:
            digest = hashlib.sha256((ctx.paper.arxiv_id + ctx.topic).encode()).digest()
            return digest[0] % 11
        return 1
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return _best_sentence(ctx)[1] >= 2 if name == "answerable" else True
    return _string(name, index, ctx)


def default_reply(body: dict[str, Any]) -> str:
    """The reply text for a request: JSON for its schema, or plain text without one."""
    fmt = (body.get("output_config") or {}).get("format")
    ctx = context_of(body)
    if not fmt:
        return ctx.paper.sentences[0] if ctx.paper and ctx.paper.sentences else "OK."
    return json.dumps(generate(fmt["schema"], ctx), ensure_ascii=False)
