"""Retrieval-augmented generation: knowledge bases in Chroma + BM25, hybrid search, cited answers.

Entry points: `core.rag.knowledge` (create / re-index / remove / open a knowledge
base, used by `python -m core kb ...` and the Knowledge page) and
`core.rag.system.RagSystem` (any `core.llm.base.Backend` answering from a
knowledge base, with citations: what a `?kb=NAME` system spec builds).

Environment:
- `RAGTUNE_ALLOWED_ROOTS`: folders (separated by `os.pathsep`) that typed sources
  may come from, besides `DATA_DIR/uploads`; unset, nothing else (`core.paths`).
- `CHROMA_URL`: a Chroma server (e.g. `http://127.0.0.1:8000`, started with
  `chroma run --host 127.0.0.1 --port 8000 --path DIR`); unset, Chroma runs
  embedded under `DATA_DIR/chroma`. Keyword indexes always live under
  `DATA_DIR/knowledge/NAME/`.
"""
