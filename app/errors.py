"""The few exceptions Paperboy raises on purpose. Each prints as one line for the user."""


class PaperboyError(Exception):
    """An expected failure: shown to the user as one line, never a traceback."""


class SourceError(PaperboyError):
    """An outside source (arXiv, Hugging Face) failed or sent something unreadable."""


class LLMError(PaperboyError):
    """The LLM could not give a usable answer (after retries)."""


class BudgetExceeded(LLMError):
    """Today's LLM budget is spent; the extractive fallback is used instead."""


class UserInputError(PaperboyError):
    """Text a user typed (CLI or Slack) that we cannot act on."""


class UnsafeLinkError(UserInputError):
    """A link to a host Paperboy will not fetch (only arXiv and Hugging Face are allowed)."""
