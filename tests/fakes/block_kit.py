"""Slack's Block Kit limits, checked the way the Slack Web API checks them.

Used by the fake Slack (tests/fakes/slack_api.py) to reject what real Slack would reject, and by
tests/test_blocks.py to check the builders on their own. Limits from ../shared/REFERENCE.md and
https://api.slack.com/reference/block-kit/blocks.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100  # modals and App Home
# Messages well below the per-block limits still fail with msg_blocks_too_long around here.
MAX_TOTAL_TEXT = 13_000

_TEXT_TYPES = ("plain_text", "mrkdwn")
_KNOWN_BLOCKS = {
    "section", "header", "context", "actions", "divider", "image", "input", "rich_text",
    "file", "video", "markdown",
}  # fmt: skip


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.total_text = 0

    def err(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def length(self, value: Any, limit: int, pointer: str, *, minimum: int = 0) -> None:
        if not isinstance(value, str):
            self.err("must be a string", pointer)
            return
        if len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", pointer)
        if len(value) < minimum:
            self.err(f"must be more than {minimum - 1} characters", pointer)

    def text_obj(self, obj: Any, limit: int, pointer: str, *, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.err("must be an object", pointer)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else _TEXT_TYPES
        if kind not in allowed:
            self.err(f"must be one of {', '.join(allowed)}", pointer + "/type")
        text = obj.get("text")
        self.length(text, limit, pointer + "/text", minimum=1)
        if isinstance(text, str):
            self.total_text += len(text)

    def element(self, el: Any, pointer: str) -> None:
        if not isinstance(el, dict):
            self.err("must be an object", pointer)
            return
        kind = el.get("type")
        if "action_id" in el:
            self.length(el["action_id"], 255, pointer + "/action_id", minimum=1)
        if kind == "button":
            self.text_obj(el.get("text"), 75, pointer + "/text", plain_only=True)
            if "value" in el:
                self.length(el["value"], 2000, pointer + "/value")
            if "url" in el:
                self.length(el["url"], 3000, pointer + "/url", minimum=1)
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.err("must be primary or danger", pointer + "/style")
        elif kind == "image":
            self.length(el.get("image_url"), 3000, pointer + "/image_url", minimum=1)
            self.length(el.get("alt_text"), 2000, pointer + "/alt_text", minimum=1)
        elif kind in ("static_select", "multi_static_select", "overflow", "radio_buttons",
                      "checkboxes"):  # fmt: skip
            options = el.get("options") or []
            limit = 5 if kind == "overflow" else 100
            if not options and "option_groups" not in el:
                self.err("must provide options", pointer + "/options")
            if len(options) > limit:
                self.err(f"must contain at most {limit} items", pointer + "/options")
            for i, opt in enumerate(options):
                self.text_obj(opt.get("text"), 75, f"{pointer}/options/{i}/text")
                self.length(opt.get("value"), 150, f"{pointer}/options/{i}/value", minimum=1)
        elif kind == "plain_text_input" and "initial_value" in el:
            self.length(el["initial_value"], 3000, pointer + "/initial_value")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.err("must be an object", pointer)
            return
        kind = block.get("type")
        if kind not in _KNOWN_BLOCKS:
            self.err(f"unsupported block type: {kind}", pointer + "/type")
            return
        if "block_id" in block:
            self.length(block["block_id"], 255, pointer + "/block_id", minimum=1)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.err("must provide text or fields", pointer)
            if "text" in block:
                self.text_obj(block["text"], 3000, pointer + "/text")
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or not fields or len(fields) > 10:
                    self.err("must contain 1 to 10 fields", pointer + "/fields")
                else:
                    for i, field in enumerate(fields):
                        self.text_obj(field, 2000, f"{pointer}/fields/{i}")
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory")
        elif kind == "header":
            self.text_obj(block.get("text"), 150, pointer + "/text", plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements or len(elements) > 10:
                self.err("must contain 1 to 10 elements", pointer + "/elements")
                return
            for i, el in enumerate(elements):
                if isinstance(el, dict) and el.get("type") in _TEXT_TYPES:
                    self.text_obj(el, 3000, f"{pointer}/elements/{i}")
                else:
                    self.element(el, f"{pointer}/elements/{i}")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements or len(elements) > 25:
                self.err("must contain 1 to 25 elements", pointer + "/elements")
                return
            seen: set[str] = set()
            for i, el in enumerate(elements):
                self.element(el, f"{pointer}/elements/{i}")
                action_id = el.get("action_id") if isinstance(el, dict) else None
                if action_id in seen:
                    self.err("action_id must be unique in a block", f"{pointer}/elements/{i}")
                if action_id:
                    seen.add(action_id)
        elif kind == "image":
            self.element({**block, "type": "image"}, pointer)
        elif kind == "input":
            self.text_obj(block.get("label"), 2000, pointer + "/label", plain_only=True)
            self.element(block.get("element"), pointer + "/element")


def block_kit_errors(blocks: Any, *, max_blocks: int = MAX_BLOCKS_MESSAGE) -> tuple[str, list[str]]:
    """("", []) when Slack would accept `blocks`; else (error code, Slack-style messages).

    The code is `invalid_blocks` for a broken limit or shape and `msg_blocks_too_long` when the
    blocks are individually fine but too long together.
    """
    if blocks is None:
        return "", []
    if not isinstance(blocks, list):
        return "invalid_blocks_format", ["[ERROR] must be an array [json-pointer:/blocks]"]
    checker = _Checker()
    if len(blocks) > max_blocks:
        checker.err(f"must contain at most {max_blocks} items", "/blocks")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, f"/blocks/{i}")
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if block_id in block_ids:
                checker.err("block_id must be unique", f"/blocks/{i}/block_id")
            block_ids.add(block_id)
    if checker.errors:
        return "invalid_blocks", checker.errors
    if checker.total_text > MAX_TOTAL_TEXT:
        return "msg_blocks_too_long", [f"[ERROR] blocks hold {checker.total_text} characters"]
    return "", []
