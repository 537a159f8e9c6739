"""Retrieval benchmark on a real codebase no one here wrote: the installed `urllib3` package.

Builds a knowledge base from urllib3's source with the lab's defaults and a
baseline in the style of the seeds' LangChain example (1,000-character
chunks with 200 overlap, raw text, dense only), then scores both on a labelled
question set (`bench/data/urllib3_questions.jsonl`: a question and the files
that answer it, written by reading the source, not by looking at results).

Reports index throughput (chunks/s), recall@5, MRR@10, precision@5 and nDCG@5
per mode, and query latency p50/p99 per mode next to a bare Chroma query for
the same k. Targets: hybrid recall@5 >= dense + 10 points; hybrid p99 <= 1.5x
the bare Chroma query. Prints a table and writes JSON under bench/results/.

    python bench/rag_retrieval.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUESTIONS = ROOT / "bench" / "data" / "urllib3_questions.jsonl"
RESULTS = ROOT / "bench" / "results"
K = 5
MRR_DEPTH = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="latency samples per question and mode")
    args = parser.parse_args()
    import urllib3

    corpus = Path(urllib3.__file__).parent
    os.environ["RAGTUNE_DATA_DIR"] = tempfile.mkdtemp(prefix="rag-bench-")
    os.environ["RAGTUNE_ALLOWED_ROOTS"] = str(corpus)
    os.environ.pop("CHROMA_URL", None)
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    report = {"corpus": f"urllib3 {urllib3.__version__} ({corpus})", "questions": len(questions), "k": K,
              "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    retriever, report["index"] = build_lab_index(corpus)
    baseline, report["baseline_index"] = build_baseline(corpus)
    report["quality"] = {mode: score(lambda q, n, m=mode: retriever.search(q, mode=m, k=n), questions)
                         for mode in ("dense", "bm25", "hybrid")}
    report["quality"]["baseline-dense-1000"] = score(baseline, questions)
    report["latency_ms"] = latencies(retriever, questions, args.repeats)
    report["targets"] = targets(report)
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"rag_retrieval-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


def build_lab_index(corpus: Path):
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.embeddings import load_embedder
    from core.rag.knowledge import create_knowledge_base, open_retriever
    from core.store import current_database

    load_embedder()  # model load is not indexing throughput
    db = current_database()
    started = time.perf_counter()
    row = create_knowledge_base(db, "urllib3", KnowledgeBaseConfig(source_path=str(corpus)))
    seconds = time.perf_counter() - started
    return open_retriever(db, "urllib3"), {
        "config": row.config, "files": row.file_count, "chunks": row.chunk_count, "seconds": round(seconds, 2),
        "chunks_per_s": round(row.chunk_count / seconds, 1), "size_bytes": row.size_bytes}


def build_baseline(corpus: Path):
    """The seeds' LangChain recipe: RecursiveCharacterTextSplitter(1000, 200) on raw text, dense search only."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from core.rag.embeddings import load_embedder
    from core.rag.loaders import load_folder
    from core.rag.vectorstore import open_collections

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    started = time.perf_counter()
    texts, sources = [], []
    for file in load_folder(corpus, 2_000_000).files:
        for piece in splitter.split_text(file.text):
            texts.append(piece)
            sources.append(file.path)
    embedder = load_embedder()
    store = open_collections().create("baseline-1000", "all-MiniLM-L6-v2", True)
    store.add([str(i) for i in range(len(texts))], texts, embedder.embed(texts), [{"source": s} for s in sources])
    seconds = time.perf_counter() - started

    def search(question: str, k: int) -> list[str]:
        return [c.metadata["source"] for c in store.query(embedder.embed([question])[0], k)]

    return search, {"chunks": len(texts), "seconds": round(seconds, 2),
                    "chunks_per_s": round(len(texts) / seconds, 1)}


def score(search, questions: list[dict]) -> dict:
    """Mean metrics over the questions, plus the questions whose relevant files were not all in the top k.
    `search(question, n)` returns hits or source paths, best first."""
    from core.rag.metrics import mean, ndcg_at_k, precision_at_k, recall_at_k, reciprocal_rank

    rows, misses = [], []
    for item in questions:
        ranked = [h if isinstance(h, str) else h.source for h in search(item["question"], MRR_DEPTH)]
        relevant = set(item["relevant"])
        rows.append((recall_at_k(ranked, relevant, K), reciprocal_rank(ranked, relevant),
                     precision_at_k(ranked, relevant, K), ndcg_at_k(ranked, relevant, K)))
        if rows[-1][0] < 1:
            misses.append({"question": item["question"], "relevant": item["relevant"], "top": ranked[:K]})
    names = (f"recall@{K}", f"mrr@{MRR_DEPTH}", f"precision@{K}", f"ndcg@{K}")
    return {**{name: round(mean([row[i] for row in rows]), 4) for i, name in enumerate(names)}, "misses": misses}


def latencies(retriever, questions: list[dict], repeats: int) -> dict[str, dict[str, float]]:
    """p50/p99 per mode, and for a bare Chroma query (text in, so it embeds too) and Chroma alone."""
    collection = retriever.store.collection
    probes = {
        "dense": lambda q: retriever.search(q, mode="dense", k=K),
        "bm25": lambda q: retriever.search(q, mode="bm25", k=K),
        "hybrid": lambda q: retriever.search(q, mode="hybrid", k=K),
        "bare-chroma-query": lambda q: collection.query(query_texts=[q], n_results=K),
    }
    vectors = {item["question"]: retriever.embedder.embed([item["question"]]) for item in questions}
    probes["bare-chroma-precomputed-vector"] = lambda q: collection.query(query_embeddings=vectors[q], n_results=K)
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for probe in probes.values():
        probe(questions[0]["question"])  # warm-up
    # Interleaved, so load from other processes during the run weighs on every probe alike.
    for _ in range(repeats):
        for item in questions:
            for name, probe in probes.items():
                started = time.perf_counter()
                probe(item["question"])
                samples[name].append((time.perf_counter() - started) * 1000)
    return {name: {"p50": round(float(np.percentile(values, 50)), 2),
                   "p99": round(float(np.percentile(values, 99)), 2), "samples": len(values)}
            for name, values in samples.items()}


def targets(report: dict) -> dict[str, dict]:
    quality, latency = report["quality"], report["latency_ms"]
    recall_gain = (quality["hybrid"][f"recall@{K}"] - quality["dense"][f"recall@{K}"]) * 100
    ratio = latency["hybrid"]["p99"] / latency["bare-chroma-query"]["p99"]
    median_ratio = latency["hybrid"]["p50"] / latency["bare-chroma-query"]["p50"]
    return {
        "hybrid_recall_gain_points": {"value": round(recall_gain, 1), "target": ">= 10", "met": recall_gain >= 10},
        "hybrid_p99_over_bare_chroma_p99": {"value": round(ratio, 2), "target": "<= 1.5", "met": ratio <= 1.5},
        "hybrid_p50_over_bare_chroma_p50": {"value": round(median_ratio, 2), "target": "<= 1.5 (same bar, median)",
                                            "met": median_ratio <= 1.5},
    }


def print_table(report: dict) -> None:
    index, base = report["index"], report["baseline_index"]
    print(f"corpus: {report['corpus']}; {report['questions']} questions; load average {report['load_average_at_start']}")
    print(f"lab index: {index['files']} files, {index['chunks']} chunks in {index['seconds']} s "
          f"= {index['chunks_per_s']} chunks/s; baseline: {base['chunks']} chunks = {base['chunks_per_s']} chunks/s\n")
    metrics = [m for m in next(iter(report["quality"].values())) if m != "misses"]
    print(f"{'mode':<20}" + "".join(f"{m:>14}" for m in metrics) + f"{'p50 ms':>10}{'p99 ms':>10}")
    for mode, values in report["quality"].items():
        latency = report["latency_ms"].get(mode, {})
        print(f"{mode:<20}" + "".join(f"{values[m]:>14.3f}" for m in metrics)
              + f"{latency.get('p50', float('nan')):>10.2f}{latency.get('p99', float('nan')):>10.2f}")
    for name in ("bare-chroma-query", "bare-chroma-precomputed-vector"):
        latency = report["latency_ms"][name]
        print(f"{name:<20}" + " " * 14 * len(metrics) + f"{latency['p50']:>10.2f}{latency['p99']:>10.2f}")
    print()
    for name, target in report["targets"].items():
        print(f"{name}: {target['value']} (target {target['target']}) {'MET' if target['met'] else 'NOT MET'}")


if __name__ == "__main__":
    sys.exit(main())
