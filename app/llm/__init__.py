"""Summaries, grades and answers from Claude, with cost controls and an extractive fallback.

Public surface: `cards.card_for` / `cards_for` (digest cards, never waiting), `service`
(`deep_summary`, `answer_question`, `expand_topic`, for Slack), `client.get_llm` (the seam over
the Anthropic SDK), `budget.usage_today`. The queue and worker are app/db/jobs.py and
app/worker.py; relevance is app/relevance.py.
"""
