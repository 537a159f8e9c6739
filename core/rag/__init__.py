"""Retrieval-augmented generation: knowledge bases in Chroma + BM25, hybrid search, cited answers.

Entry points: `core.rag.knowledge` (create / re-index / remove / open a knowledge
base) and `core.rag.answering.answer_question` (a cited answer from a retriever
and any `core.llm.base.Backend`).
"""
