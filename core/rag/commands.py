"""`python -m core kb ...`: knowledge bases from the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict

from core.access import Role, require
from core.errors import InvalidInputError
from core.llm.registry import SEARCH_MODES
from core.paths import operator_paths
from core.rag.config import CHUNKERS, KnowledgeBaseConfig
from core.store import current_database
from core.subcommands import add_command

_DEFAULTS = KnowledgeBaseConfig()


def register(subparsers) -> None:
    kb = subparsers.add_parser("kb", help="knowledge bases for RAG (the Knowledge page)")
    commands = kb.add_subparsers(dest="kb_command", metavar="COMMAND", required=True)
    add = add_command(commands, "add", "create and index a knowledge base from a folder or git repository", run_add)
    add.add_argument("name")
    add.add_argument("path", help="a folder, a file, or (with --git-rev) a git repository")
    add.add_argument("--git-rev", help="index the files tracked at this git revision (e.g. HEAD, main, v1.2)")
    add.add_argument("--chunker", choices=CHUNKERS, default=_DEFAULTS.chunker)
    add.add_argument("--chunk-size", type=int, default=_DEFAULTS.chunk_size, help="characters per chunk")
    add.add_argument("--overlap", type=int, default=_DEFAULTS.chunk_overlap, help="characters shared by neighbours")
    add.add_argument("--embedding-model", default=_DEFAULTS.embedding_model,
                     help="the packaged default, or a local sentence-transformers folder")
    add.add_argument("--float32", action="store_true", help="embed in float32 instead of bfloat16")
    add.add_argument("--reranker", default="", help="rerank the fused candidates with a local cross-encoder "
                     "folder, or with a local language model by query likelihood: lm:smollm2 (~6 s a search on 2 "
                     "cores)")
    add.add_argument("--neighbours", type=int, default=_DEFAULTS.neighbours,
                     help="widen each hit by this many chunks before and after it (more context per answer)")
    add.add_argument("--max-file-mb", type=float, default=_DEFAULTS.max_file_bytes / 1e6)
    search = add_command(commands, "search", "search a knowledge base", run_search)
    search.add_argument("name")
    search.add_argument("query")
    search.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
    search.add_argument("-k", type=int, default=5, help="number of chunks to return")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    add_command(commands, "list", "list knowledge bases", run_list)
    reindex = add_command(commands, "reindex", "re-index from the source (only changed files)", run_reindex)
    reindex.add_argument("name")
    remove = add_command(commands, "remove", "delete a knowledge base and its index", run_remove)
    remove.add_argument("name")


@operator_paths()  # the folder is registered here, in the operator's shell
def run_add(args: argparse.Namespace) -> int:
    require(args.actor, Role.ADMIN, "create a knowledge base")
    if not math.isfinite(args.max_file_mb) or args.max_file_mb <= 0:
        raise InvalidInputError(f"--max-file-mb must be a number of megabytes above 0, not {args.max_file_mb}.")
    config = KnowledgeBaseConfig(
        source_kind="git" if args.git_rev else "folder", source_path=args.path, git_rev=args.git_rev or "HEAD",
        chunker=args.chunker, chunk_size=args.chunk_size, chunk_overlap=args.overlap,
        embedding_model=args.embedding_model, bfloat16=not args.float32, reranker_model=args.reranker,
        neighbours=args.neighbours, max_file_bytes=int(args.max_file_mb * 1e6))
    from core.rag.knowledge import create_knowledge_base  # Chroma and the indexer: only when a command needs them

    row = create_knowledge_base(current_database(), args.name, config, progress=_print_progress,
                                created_by=args.actor.email)
    print(f"{row.name}: {row.file_count} file(s), {row.chunk_count} chunk(s), {row.size_bytes / 1e6:.1f} MB")
    _print_skipped(row.skipped)
    return 0


def run_search(args: argparse.Namespace) -> int:
    from core.rag.knowledge import open_retriever

    hits = open_retriever(current_database(), args.name).search(args.query, mode=args.mode, k=args.k)
    if args.json:
        print(json.dumps([{**asdict(h), "location": h.location} for h in hits], indent=2))
        return 0
    for rank, hit in enumerate(hits, start=1):
        first_line = hit.text.strip().splitlines()[0][:80] if hit.text.strip() else ""
        print(f"{rank}. {hit.location}  score={hit.score:.4f}  {first_line}")
    return 0


def run_list(_args: argparse.Namespace) -> int:
    from core.rag.knowledge import list_knowledge_bases

    for row in list_knowledge_bases(current_database()):
        indexed = f"{row.last_indexed_at:%Y-%m-%d %H:%M}" if row.last_indexed_at else "-"
        source = row.config.get("source_path", "")
        print(f"{row.name}\t{row.status}\t{row.file_count} files\t{row.chunk_count} chunks\t"
              f"{row.size_bytes / 1e6:.1f} MB\t{indexed}\t{source}" + (f"\t{row.error}" if row.error else ""))
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    from core.rag.knowledge import reindex_knowledge_base

    require(args.actor, Role.ADMIN, "re-index a knowledge base")
    stats = reindex_knowledge_base(current_database(), args.name, progress=_print_progress)
    print(f"{args.name}: {stats.embedded_files} file(s) re-embedded, {stats.reused_files} unchanged, "
          f"{stats.removed_files} removed; {stats.chunk_count} chunk(s) in {stats.seconds:.1f} s")
    if stats.full_reembed_reason:
        print(f"Everything was embedded again: {stats.full_reembed_reason}.")
    _print_skipped([{"path": s.path, "reason": s.reason} for s in stats.skipped])
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from core.rag.knowledge import remove_knowledge_base

    remove_knowledge_base(current_database(), args.name, args.actor)
    print(f"removed {args.name}")
    return 0


def _print_progress(stage: str, fraction: float) -> None:
    print(f"[{fraction:4.0%}] {stage}", file=sys.stderr)


def _print_skipped(skipped: list[dict[str, str]]) -> None:
    for entry in skipped:
        print(f"skipped {entry['path']}: {entry['reason']}", file=sys.stderr)
