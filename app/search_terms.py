"""ML acronyms and their long forms, so `LLM` finds "large language models" and back.

Long forms are written with spaces: PostgreSQL indexes a hyphenated word as the compound
followed by its parts, so the phrase "retrieval augmented generation" matches the hyphenated
spelling too. That only works when the compound comes first: in "supervised fine-tuning" the
compound takes a position of its own between "supervised" and "fine", so such forms also list the
hyphenated spelling. Stopwords inside ("mixture of experts") are fine: `phraseto_tsquery` keeps
their distance.
"""

from __future__ import annotations

from collections.abc import Iterable

ACRONYMS: dict[str, tuple[str, ...]] = {
    "llm": ("large language model",),
    "lm": ("language model",),
    "slm": ("small language model",),
    "mllm": ("multimodal large language model",),
    "lmm": ("large multimodal model",),
    "vlm": ("vision language model",),
    "vla": ("vision language action",),
    "rag": ("retrieval augmented generation",),
    "rl": ("reinforcement learning",),
    "rlhf": ("reinforcement learning from human feedback",),
    "rlvr": ("reinforcement learning with verifiable rewards",),
    "dpo": ("direct preference optimization",),
    "ppo": ("proximal policy optimization",),
    "grpo": ("group relative policy optimization",),
    "sft": ("supervised fine tuning", "supervised fine-tuning", "supervised finetuning"),
    "peft": ("parameter efficient fine tuning", "parameter-efficient fine-tuning"),
    "lora": ("low rank adaptation",),
    "icl": ("in context learning",),
    "cot": ("chain of thought",),
    "moe": ("mixture of experts",),
    "nlp": ("natural language processing",),
    "nlu": ("natural language understanding",),
    "nlg": ("natural language generation",),
    "nli": ("natural language inference",),
    "ner": ("named entity recognition",),
    "qa": ("question answering",),
    "vqa": ("visual question answering",),
    "mt": ("machine translation",),
    "asr": ("automatic speech recognition",),
    "tts": ("text to speech",),
    "ocr": ("optical character recognition",),
    "kg": ("knowledge graph",),
    "gnn": ("graph neural network",),
    "cnn": ("convolutional neural network",),
    "rnn": ("recurrent neural network",),
    "vit": ("vision transformer",),
    "gan": ("generative adversarial network",),
    "vae": ("variational autoencoder",),
    "ssm": ("state space model",),
    "kd": ("knowledge distillation",),
    "mcts": ("monte carlo tree search",),
    "ood": ("out of distribution",),
    "nerf": ("neural radiance field",),
}


def key_words(words: Iterable[str]) -> tuple[str, ...]:
    """A crude singular form for matching typed words against long forms ("models" = "model").
    PostgreSQL's stemmer does the real matching; this only decides when to add the acronym."""
    return tuple(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words)


LONG_FORMS: dict[tuple[str, ...], str] = {
    key_words(form.replace("-", " ").split()): acronym
    for acronym, forms in ACRONYMS.items()
    for form in forms
}
MAX_LONG_FORM_WORDS = max(len(k) for k in LONG_FORMS)
