# ruff: noqa: E501 - the sample texts read better unwrapped
"""Regenerate the bundled sample feed in app/sample_data/ (run by hand; the output is committed).

    .venv/bin/python tools/gen_sample_data.py

Every paper here is invented for Paperboy (titles, abstracts, people, ids): realistic enough for
the demo and for search to have something to find, in the real wire formats (arXiv Atom pages,
Hugging Face daily_papers JSON). Dates are written relative to ANCHOR; the loader
(app/sources/sample.py) shifts them so the demo always looks recent.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

OUT = Path(__file__).resolve().parents[1] / "app" / "sample_data"
ANCHOR = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
PAGE_SIZE = 25

# (topic, primary category, other categories, title, method name)
PAPERS: list[tuple[str, str, list[str], str, str]] = [
    (
        "llm",
        "cs.CL",
        ["cs.AI"],
        "Sparse Verifier Cascades Make Large Language Models Reason Cheaply",
        "SVC",
    ),
    (
        "llm",
        "cs.CL",
        ["cs.LG"],
        "When Does Chain-of-Thought Help? A Controlled Study Across 40 Tasks",
        "CoT-40",
    ),
    (
        "llm",
        "cs.CL",
        [],
        "Tokenizer Drift: How Vocabulary Choices Shape Multilingual LLM Quality",
        "DriftScope",
    ),
    (
        "llm",
        "cs.LG",
        ["cs.CL"],
        "Mixture-of-Experts Routing Collapse and How to Avoid It at Scale",
        "BalancedRoute",
    ),
    (
        "llm",
        "cs.CL",
        ["cs.AI"],
        "Self-Consistency Without Sampling: Deterministic Ensembles for LLM Reasoning",
        "DetEns",
    ),
    (
        "llm",
        "cs.CL",
        [],
        "Long-Context Language Models Forget the Middle Less Than We Thought",
        "MidProbe",
    ),
    ("llm", "cs.LG", [], "Scaling Laws for Data Mixtures in Language Model Pretraining", "MixLaw"),
    (
        "llm",
        "cs.CL",
        ["cs.LG"],
        "Speculative Decoding with Learned Draft Trees for Large Language Models",
        "DraftTree",
    ),
    ("llm", "cs.CL", [], "Calibrated Refusals: Teaching LLMs When Not to Answer", "CaliRef"),
    (
        "llm",
        "cs.CL",
        ["cs.AI"],
        "Small Language Models Can Verify Large Ones: A Study of Weak-to-Strong Checking",
        "W2SCheck",
    ),
    (
        "llm",
        "cs.LG",
        ["cs.CL"],
        "Efficient Attention with $\\mathcal{O}(n \\log n)$ Memory for Million-Token Contexts",
        "LogAttn",
    ),
    (
        "llm",
        "cs.CL",
        [],
        "Instruction Tuning Data Quality Matters More Than Quantity: Evidence from 1,000 Ablations",
        "QualiTune",
    ),
    ("llm", "cs.CL", ["cs.AI"], "Direct Preference Optimization Under Noisy Labels", "RobustDPO"),
    (
        "llm",
        "cs.CL",
        [],
        "Über-Tokenization: Byte-Level Models for Morphologically Rich Languages",
        "ByteMorph",
    ),
    (
        "rag",
        "cs.IR",
        ["cs.CL"],
        "Adaptive Retrieval-Augmented Generation: Knowing When to Retrieve",
        "AskFirst",
    ),
    (
        "rag",
        "cs.CL",
        ["cs.IR"],
        "Citation-Faithful RAG: Training Generators to Ground Every Claim",
        "GroundCite",
    ),
    (
        "rag",
        "cs.IR",
        [],
        "Dense Retrieval with Late Interaction at Billion Scale on a Single GPU",
        "TinyColBERT",
    ),
    (
        "rag",
        "cs.IR",
        ["cs.CL"],
        "Query Rewriting with Small Models Beats Larger Retrievers for Multi-Hop QA",
        "ReWrite-S",
    ),
    (
        "rag",
        "cs.CL",
        ["cs.IR"],
        "Long-Context LLMs or RAG? A Cost-Aware Comparison on Enterprise Documents",
        "CostBench",
    ),
    (
        "rag",
        "cs.IR",
        [],
        "Hybrid Sparse-Dense Retrieval for Scientific Literature Search",
        "SciHybrid",
    ),
    (
        "rag",
        "cs.CL",
        ["cs.IR", "cs.AI"],
        "GraphRAG Revisited: When Knowledge Graphs Help Retrieval-Augmented Generation",
        "KG-Lens",
    ),
    (
        "rag",
        "cs.IR",
        ["cs.LG"],
        "Learning to Rerank with LLM Feedback Under a Latency Budget",
        "FastRerank",
    ),
    ("rag", "cs.CL", ["cs.IR"], "Detecting Retrieval Poisoning in RAG Pipelines", "PoisonGuard"),
    (
        "rag",
        "cs.IR",
        [],
        "Chunking Strategies for Retrieval-Augmented Generation: A Systematic Evaluation",
        "ChunkEval",
    ),
    (
        "rag",
        "cs.CL",
        ["cs.IR"],
        "Multilingual Retrieval-Augmented Question Answering for Low-Resource Languages",
        "PolyRAG",
    ),
    (
        "rl",
        "cs.LG",
        ["cs.AI"],
        "Reinforcement Learning with Verifiable Rewards Scales to Theorem Proving",
        "ProofRL",
    ),
    ("rl", "cs.LG", [], "Offline Reinforcement Learning from Mixed-Quality Demonstrations", "MixQ"),
    (
        "rl",
        "cs.LG",
        ["cs.AI"],
        "Group Relative Policy Optimization Without a Value Function: Variance Analysis",
        "GRPO-VA",
    ),
    (
        "rl",
        "cs.LG",
        ["cs.RO"],
        "Sample-Efficient Model-Based RL for Dexterous Manipulation",
        "DexModel",
    ),
    ("rl", "cs.LG", ["cs.CL"], "Reward Hacking in RLHF: A Taxonomy and Mitigations", "HackTax"),
    (
        "rl",
        "cs.AI",
        ["cs.LG"],
        "Curriculum Reinforcement Learning for Math Reasoning in Small Models",
        "CurMath",
    ),
    ("rl", "cs.LG", [], "Exploration Bonuses from Language Model Priors", "LMExplore"),
    (
        "rl",
        "cs.LG",
        ["cs.MA"],
        "Multi-Agent Reinforcement Learning with Communication Budgets",
        "CommBudget",
    ),
    (
        "rl",
        "cs.LG",
        [],
        "Stable Policy Gradients for Long-Horizon Tasks via Return Decomposition",
        "ReDecomp",
    ),
    (
        "rl",
        "cs.LG",
        ["cs.AI"],
        "Process Reward Models Are Not Enough: Outcome Signals Still Matter",
        "ProcOut",
    ),
    (
        "agents",
        "cs.AI",
        ["cs.CL"],
        "Tool-Use Agents That Recover From Their Own Mistakes",
        "ReTool",
    ),
    (
        "agents",
        "cs.AI",
        ["cs.SE"],
        "Software Engineering Agents in the Wild: 10,000 Pull Requests Analysed",
        "PR-Wild",
    ),
    (
        "agents",
        "cs.CL",
        ["cs.AI"],
        "Web Agents Need Memory: A Benchmark for Long-Horizon Browsing",
        "WebMem",
    ),
    (
        "agents",
        "cs.AI",
        [],
        "Planning with LLM Agents: Search Beats Reflection on Hard Tasks",
        "TreePlan",
    ),
    (
        "agents",
        "cs.AI",
        ["cs.CR"],
        "Prompt Injection Attacks on Autonomous Agents and Practical Defenses",
        "InjectShield",
    ),
    (
        "agents",
        "cs.AI",
        ["cs.CL"],
        "Multi-Agent Debate Improves Factuality Only With Diverse Models",
        "DiverseDebate",
    ),
    (
        "agents",
        "cs.AI",
        ["cs.LG"],
        "Cost-Aware Routing Between Small and Large Models in Agent Workflows",
        "AgentRouter",
    ),
    (
        "agents",
        "cs.CL",
        ["cs.AI"],
        "Evaluating Research Agents on Reproducing ML Papers",
        "ReproBench",
    ),
    (
        "agents",
        "cs.AI",
        [],
        "Agentic Data Analysis: From Question to Verified Notebook",
        "NoteAgent",
    ),
    (
        "agents",
        "cs.AI",
        ["cs.HC"],
        "Human-in-the-Loop Oversight for Computer-Use Agents",
        "OverSee",
    ),
    (
        "vision",
        "cs.CV",
        ["cs.LG"],
        "Vision Transformers Without Positional Embeddings Generalize to Higher Resolutions",
        "NoPE-ViT",
    ),
    (
        "vision",
        "cs.CV",
        ["cs.CL"],
        "Grounded Visual Question Answering with Region-Level Rationales",
        "RegionQA",
    ),
    ("vision", "cs.CV", [], "Diffusion Models as Data Engines for Rare-Class Detection", "RareGen"),
    (
        "vision",
        "cs.CV",
        ["cs.AI"],
        "Vision-Language Models Still Cannot Count: A Diagnostic Benchmark",
        "CountBench",
    ),
    (
        "vision",
        "cs.CV",
        ["cs.LG"],
        "Efficient Video Understanding with Token Merging Across Frames",
        "FrameMerge",
    ),
    ("vision", "cs.CV", [], "Open-Vocabulary Segmentation from Weak Captions", "CapSeg"),
    (
        "vision",
        "cs.CV",
        ["cs.RO"],
        "Vision-Language-Action Models for Household Robots: What Transfers?",
        "VLA-Home",
    ),
    (
        "vision",
        "cs.CV",
        ["cs.CL"],
        "Document OCR with Multimodal LLMs: Errors, Hallucinations and Fixes",
        "DocFix",
    ),
    (
        "vision",
        "cs.CV",
        [],
        "Self-Supervised 3D Scene Understanding from Phone Videos",
        "PhoneScene",
    ),
    (
        "eval",
        "cs.CL",
        ["cs.AI"],
        "Benchmark Contamination Detection via Perturbed Re-Evaluation",
        "ContamCheck",
    ),
    (
        "eval",
        "cs.CL",
        [],
        "LLM-as-a-Judge Is Biased Toward Longer Answers: Measuring and Correcting It",
        "LenDebias",
    ),
    (
        "eval",
        "cs.LG",
        ["cs.CL"],
        "Uncertainty Estimation for Generative Models with Semantic Entropy Probes",
        "SEProbe",
    ),
    (
        "eval",
        "cs.CL",
        ["cs.CY"],
        "Measuring Sycophancy in Instruction-Following Models",
        "SycoMeter",
    ),
    (
        "eval",
        "cs.AI",
        ["cs.CL"],
        "Evaluating Scientific Claim Verification with Expert Annotations",
        "ClaimCheck",
    ),
    ("eff", "cs.LG", [], "Quantization-Aware Fine-Tuning for 2-bit Language Models", "QAT2"),
    (
        "eff",
        "cs.LG",
        ["cs.CL"],
        "LoRA Adapters Interfere: Merging Methods for Multi-Task Serving",
        "AdaMerge",
    ),
    (
        "eff",
        "cs.LG",
        ["cs.DC"],
        "KV-Cache Compression for Long-Context Inference on Commodity GPUs",
        "KVSqueeze",
    ),
    (
        "eff",
        "cs.LG",
        [],
        "Knowledge Distillation from Reasoning Traces into Small Models",
        "TraceDistill",
    ),
    (
        "eff",
        "cs.CL",
        ["cs.LG"],
        "Pruning Attention Heads Without Retraining in Large Language Models",
        "HeadPrune",
    ),
    (
        "safety",
        "cs.CL",
        ["cs.CR"],
        "Jailbreak Robustness Through Adversarial Preference Training",
        "AdvPref",
    ),
    (
        "safety",
        "cs.LG",
        ["cs.AI"],
        "Sparse Autoencoders Find Interpretable Features for Deception in LLMs",
        "SAE-Deceive",
    ),
    (
        "safety",
        "cs.CL",
        ["cs.AI"],
        "Watermarking LLM Outputs Survives Paraphrasing Better Than Expected",
        "ParaMark",
    ),
    (
        "speech",
        "cs.CL",
        ["eess.AS"],
        "Speech Language Models That Listen While They Speak",
        "DuplexLM",
    ),
    (
        "speech",
        "cs.CL",
        ["cs.SD"],
        "Low-Resource Automatic Speech Recognition with Synthetic Accents",
        "AccentSynth",
    ),
    (
        "graph",
        "cs.LG",
        ["cs.SI"],
        "Graph Neural Networks Meet LLMs for Molecule Property Prediction",
        "MolGLM",
    ),
    ("graph", "cs.LG", [], "Temporal Graph Learning for Fraud Detection at Scale", "TempFraud"),
    (
        "code",
        "cs.SE",
        ["cs.CL"],
        "Repository-Level Code Generation with Retrieval of Call Graphs",
        "CallGraphGen",
    ),
]

# Papers only Hugging Face lists in the sample (arXiv would fill them in later).
HF_ONLY: list[tuple[str, str, str]] = [
    (
        "vision",
        "Unified Image Editing and Generation with a Single Diffusion Transformer",
        "OneDiT",
    ),
    ("llm", "Open Reasoning Models Trained on Synthetic Olympiad Problems", "OlymPile"),
    ("agents", "A Generalist Computer-Use Agent Trained on a Million Screenshots", "ScreenPilot"),
    ("rl", "Self-Play Fine-Tuning for Code Models With Unit-Test Rewards", "TestPlay"),
]

PROBLEMS = {
    "llm": "Large language models (LLMs) reach strong accuracy on reasoning benchmarks, but the cost and reliability of their outputs remain poorly understood.",
    "rag": "Retrieval-augmented generation (RAG) grounds language models in external documents, yet retrieval errors and unfaithful generation still limit its usefulness in practice.",
    "rl": "Reinforcement learning (RL) has become central to post-training and control, but it remains sample-hungry and unstable when rewards are sparse or noisy.",
    "agents": "LLM-based agents increasingly act in open environments with tools, browsers and code, where small errors compound over long horizons.",
    "vision": "Vision and vision-language models have improved quickly, but their failures on fine-grained spatial and counting questions remain poorly characterized.",
    "eval": "Evaluation of language models is increasingly done automatically, which raises questions about bias, contamination and the validity of reported gains.",
    "eff": "Serving large language models is dominated by memory and bandwidth costs, which makes efficient inference and adaptation a practical priority.",
    "safety": "Deployed language models face adversarial users and must remain honest and robust without sacrificing helpfulness.",
    "speech": "Speech interfaces to language models still lag behind text in latency, robustness to accents and support for low-resource languages.",
    "graph": "Graph-structured data appears throughout science and industry, and combining graph learning with language models remains an open problem.",
    "code": "Code generation models perform well on isolated functions but struggle with repository-level context and cross-file dependencies.",
}
METHODS = [
    "We introduce {m}, a simple method that {verb} while adding negligible overhead.",
    "We propose {m}, which {verb} and can be combined with existing pipelines without retraining.",
    "In this paper we present {m}, an approach that {verb}.",
]
VERBS = {
    "llm": [
        "allocates test-time compute only where a lightweight verifier is uncertain",
        "aligns intermediate reasoning steps with a learned consistency signal",
        "reuses partial computations across related prompts",
    ],
    "rag": [
        "decides per query whether retrieval is needed",
        "trains the generator to cite the passage supporting each sentence",
        "rewrites queries with a small model before dense retrieval",
    ],
    "rl": [
        "shapes sparse rewards with automatically verified intermediate goals",
        "reduces gradient variance with a group-normalised baseline",
        "learns a compact world model for planning",
    ],
    "agents": [
        "lets the agent detect and undo its own failed actions",
        "maintains an explicit memory of visited states and tool results",
        "routes each step to the cheapest model that can solve it",
    ],
    "vision": [
        "learns region-level alignments between image patches and text",
        "merges redundant visual tokens across frames",
        "synthesises training images for rare classes with a diffusion model",
    ],
    "eval": [
        "perturbs benchmark items to reveal memorisation",
        "estimates and removes a judge's preference for length",
        "probes hidden states to estimate semantic uncertainty",
    ],
    "eff": [
        "compresses the key-value cache with learned low-rank projections",
        "quantizes weights to two bits with a short fine-tuning phase",
        "merges task adapters with interference-aware weights",
    ],
    "safety": [
        "trains against automatically discovered adversarial prompts",
        "identifies sparse features linked to deceptive behaviour",
        "embeds a paraphrase-robust statistical watermark",
    ],
    "speech": [
        "interleaves listening and speaking in a single streaming model",
        "augments training data with synthetic accented speech",
    ],
    "graph": [
        "encodes molecular graphs as soft prompts for a language model",
        "models transaction graphs as they evolve over time",
    ],
    "code": ["retrieves call-graph neighbours of the edited function as context"],
}
RESULTS = [
    "Across {n} benchmarks, {m} improves accuracy by {a} points on average while reducing cost by {c}%.",
    "Experiments on {n} datasets show that {m} outperforms strong baselines by {a} points, with the largest gains on the hardest splits.",
    "{m} matches the quality of systems {c}% more expensive and improves over prior work by {a} points on {n} tasks.",
]
CLOSERS = [
    "We release code, data and model checkpoints.",
    "Our analysis also reveals when the method fails, and we discuss implications for future work.",
    "Code is available at the project page.",
    "We hope our findings inform the design of more reliable systems.",
]
FIRST = [
    "Mei",
    "Jonas",
    "Aisha",
    "Tomás",
    "Zoë",
    "Kenji",
    "Priya",
    "Lukas",
    "Chloé",
    "Oluwaseun",
    "Ingrid",
    "Rafael",
    "Yuki",
    "Amara",
    "Søren",
    "Elena",
    "Dmitri",
    "Fatima",
    "Björn",
    "Hana",
    "Mateus",
    "Nadia",
    "Wei",
    "Gabriel",
]
LAST = [
    "Zhang",
    "Müller",
    "Okafor",
    "García",
    "Lindqvist",
    "Tanaka",
    "Raman",
    "Novak",
    "Dubois",
    "Adeyemi",
    "Kowalski",
    "Rossi",
    "Nakamura",
    "Haddad",
    "Jørgensen",
    "Petrova",
    "Ivanov",
    "Chen",
    "Schäfer",
    "Kim",
    "Silva",
    "Benali",
    "Li",
    "Moreau",
]
AFFILIATIONS = [
    "University of Edinburgh",
    "Tsinghua University",
    "ETH Zürich",
    "Carnegie Mellon University",
    "Université de Montréal",
    "KAIST",
    "University of Tokyo",
    "Max Planck Institute for Intelligent Systems",
    "University of Lagos",
    "Inria Paris",
]
ORGS = [("acme-ai", "Acme AI Research"), ("openlab", "OpenLab"), ("nlp-edinburgh", "Edinburgh NLP")]


def author_list(rng: random.Random) -> list[tuple[str, list[str]]]:
    people = []
    for _ in range(rng.randint(2, 7)):
        affiliation = [rng.choice(AFFILIATIONS)] if rng.random() < 0.25 else []
        people.append((f"{rng.choice(FIRST)} {rng.choice(LAST)}", affiliation))
    return people


def abstract(rng: random.Random, topic: str, method: str) -> str:
    sentences = [
        PROBLEMS[topic],
        rng.choice(METHODS).format(m=method, verb=rng.choice(VERBS[topic])),
        rng.choice(RESULTS).format(
            m=method, n=rng.randint(3, 12), a=round(rng.uniform(1.5, 9.5), 1), c=rng.randint(15, 70)
        ),
        rng.choice(CLOSERS),
    ]
    return " ".join(sentences)


def wrap(text: str, width: int = 78) -> str:
    """arXiv hard-wraps abstracts; the parser must cope."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n  ".join(lines)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build() -> tuple[list[dict], list[dict]]:
    rng = random.Random(2611)
    papers = []
    for i, (topic, primary, others, title, method) in enumerate(PAPERS):
        published = ANCHOR - timedelta(hours=2 + i * 1.9 + rng.random())
        version = 2 if i % 9 == 4 else 1
        updated = published + timedelta(days=1, hours=3) if version == 2 else published
        papers.append(
            {
                "id": f"2611.{21000 + 37 * i:05d}",
                "version": version,
                "topic": topic,
                "title": title,
                "method": method,
                "abstract": abstract(rng, topic, method),
                "authors": author_list(rng),
                "primary": primary,
                "categories": [primary, *others],
                "published": published,
                "updated": min(updated, ANCHOR),
                "comment": rng.choice(
                    [
                        None,
                        None,
                        "Preprint. Under review.",
                        f"{rng.randint(8, 40)} pages, {rng.randint(2, 12)} figures",
                        "Accepted at ICLR 2027",
                    ]
                ),
                "journal_ref": "Trans. Mach. Learn. Res. (2026)" if i % 17 == 3 else None,
                "doi": f"10.48550/demo.{21000 + i}" if i % 13 == 5 else None,
            }
        )
    hf_only = []
    for j, (topic, title, method) in enumerate(HF_ONLY):
        hf_only.append(
            {
                "id": f"2611.{24000 + 41 * j:05d}",
                "version": 1,
                "topic": topic,
                "title": title,
                "method": method,
                "abstract": abstract(rng, topic, method),
                "authors": author_list(rng),
                "published": ANCHOR - timedelta(days=1 + j % 3, hours=5),
            }
        )
    return papers, hf_only


def entry_xml(p: dict) -> str:
    vid = f"{p['id']}v{p['version']}"
    parts = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{vid}</id>",
        f"    <title>{escape(p['title'])}</title>",
        f"    <updated>{iso(p['updated'])}</updated>",
        f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf" title="pdf"/>',
        f"    <summary>{escape(wrap(p['abstract']))}\n</summary>",
    ]
    parts += [
        f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
        for c in p["categories"]
    ]
    parts.append(f"    <published>{iso(p['published'])}</published>")
    if p["comment"]:
        parts.append(f"    <arxiv:comment>{escape(p['comment'])}</arxiv:comment>")
    parts.append(f'    <arxiv:primary_category term="{p["primary"]}"/>')
    if p["journal_ref"]:
        parts.append(f"    <arxiv:journal_ref>{escape(p['journal_ref'])}</arxiv:journal_ref>")
    for name, affiliations in p["authors"]:
        parts.append("    <author>")
        parts.append(f"      <name>{escape(name)}</name>")
        parts += [f"      <arxiv:affiliation>{escape(a)}</arxiv:affiliation>" for a in affiliations]
        parts.append("    </author>")
    if p["doi"]:
        parts.append(f'    <link href="https://doi.org/{p["doi"]}" rel="related" title="doi"/>')
        parts.append(f"    <arxiv:doi>{escape(p['doi'])}</arxiv:doi>")
    parts.append("  </entry>")
    return "\n".join(parts)


def feed_xml(entries: list[dict], *, start: int, total: int, query: str) -> str:
    head = f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/paperboy-sample-{start}</id>
  <title>arXiv Query: search_query={escape(query)}&amp;id_list=&amp;start={start}&amp;max_results={PAGE_SIZE}</title>
  <updated>{iso(ANCHOR)}</updated>
  <link href={quoteattr(f"https://arxiv.org/api/query?search_query={query}&start={start}&max_results={PAGE_SIZE}&id_list=")} type="application/atom+xml"/>
  <opensearch:itemsPerPage>{PAGE_SIZE}</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
"""
    return head + "\n".join(entry_xml(e) for e in entries) + "\n</feed>\n"


def hf_item(p: dict, rng: random.Random, featured: datetime) -> dict:
    org = rng.choice([None, None, *ORGS])
    paper = {
        "id": p["id"],
        "authors": [
            {"_id": f"{rng.getrandbits(96):024x}", "name": n, "hidden": False}
            for n, _ in p["authors"]
        ],
        "publishedAt": iso(p["published"]).replace("Z", ".000Z"),
        "submittedOnDailyAt": iso(featured).replace("Z", ".000Z"),
        "title": p["title"],
        "summary": p["abstract"],
        "upvotes": rng.choice([3, 7, 12, 18, 25, 41, 64, 97, 150]),
        "discussionId": f"{rng.getrandbits(96):024x}",
        "ai_summary": f"{p['method']}: " + p["abstract"].split(". ")[1].rstrip(".") + ".",
        "ai_keywords": [
            p["method"],
            *rng.sample(
                [
                    "LLM",
                    "retrieval",
                    "reinforcement learning",
                    "agents",
                    "benchmark",
                    "efficiency",
                    "multimodal",
                    "reasoning",
                ],
                3,
            ),
        ],
    }
    if rng.random() < 0.5:
        paper["githubRepo"] = (
            f"https://github.com/{rng.choice(['acme-ai', 'openlab', 'paperboy-demo'])}/{p['method'].lower()}"
        )
        paper["githubStars"] = rng.randint(5, 2400)
    if rng.random() < 0.3:
        paper["projectPage"] = f"https://{p['method'].lower()}.github.io"
    if org:
        paper["organization"] = {
            "_id": f"{rng.getrandbits(96):024x}",
            "name": org[0],
            "fullname": org[1],
        }
    return {
        "paper": paper,
        "publishedAt": iso(featured).replace("Z", ".000Z"),
        "title": p["title"],
        "summary": p["abstract"],
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{p['id']}.png",
        "numComments": rng.choice([0, 0, 1, 2, 4]),
        "submittedBy": {
            "_id": f"{rng.getrandbits(96):024x}",
            "avatarUrl": "",
            "fullname": "Paperboy Demo",
            "name": "paperboy-demo",
            "type": "user",
        },
        "isAuthorParticipating": rng.random() < 0.3,
    }


def main() -> None:
    rng = random.Random(42)
    papers, hf_only = build()
    papers.sort(key=lambda p: p["published"], reverse=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.xml"):
        old.unlink()
    for old in OUT.glob("*.json"):
        old.unlink()
    query = "cat:cs.CL OR cat:cs.LG OR cat:cs.AI OR cat:cs.IR OR cat:cs.CV".replace(" ", "+")
    pages = [papers[i : i + PAGE_SIZE] for i in range(0, len(papers), PAGE_SIZE)]
    for n, page in enumerate(pages, start=1):
        text = feed_xml(page, start=(n - 1) * PAGE_SIZE, total=len(papers), query=query)
        (OUT / f"arxiv_page_{n}.xml").write_text(text, encoding="utf-8")

    days = [ANCHOR.date() - timedelta(days=d) for d in range(3)]
    featured_ids: set[str] = set()  # Hugging Face features a paper on one day only
    for d, day in enumerate(days):
        featured = datetime(day.year, day.month, day.day, 13, 30, tzinfo=UTC)
        # Hugging Face features papers after arXiv announces them: older than the featured time.
        eligible = [
            p
            for p in papers
            if p["published"] < featured - timedelta(hours=6) and p["id"] not in featured_ids
        ]
        picked = [p for k, p in enumerate(eligible) if k % 3 == 0][:10] + [hf_only[d]]
        featured_ids.update(p["id"] for p in picked)
        items = [hf_item(p, rng, featured) for p in picked]
        (OUT / f"hf_daily_{day.isoformat()}.json").write_text(
            json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    trending = [
        hf_item(p, rng, ANCHOR - timedelta(days=rng.randint(0, 3), hours=6)) for p in papers[1:40:4]
    ] + [hf_item(hf_only[3], rng, ANCHOR - timedelta(days=2))]
    (OUT / "hf_trending.json").write_text(
        json.dumps(trending, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    manifest = {
        "anchor": iso(ANCHOR),
        "note": "Invented sample papers for the Paperboy demo; dates shift so the newest is today.",
        "arxiv_pages": [f"arxiv_page_{n}.xml" for n in range(1, len(pages) + 1)],
        "hf_daily": {day.isoformat(): f"hf_daily_{day.isoformat()}.json" for day in days},
        "hf_trending": "hf_trending.json",
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(
        f"{len(papers)} arXiv papers in {len(pages)} pages, {len(hf_only)} Hugging Face only -> {OUT}"
    )


if __name__ == "__main__":
    main()
