"""Knowledge: build, inspect and search the knowledge bases RAG answers from."""

from __future__ import annotations

import streamlit as st

from core.rag.config import CHUNKERS, DEFAULT_EMBEDDING_MODEL, MAX_NEIGHBOURS, KnowledgeBaseConfig
from core.rag.index_job import IndexJob, submit_index, submit_reindex
from core.rag.knowledge import list_knowledge_bases, open_retriever, preview_chunks, remove_knowledge_base
from core.rag.retrieval import compare_modes
from core.rag.views import chunk_rows, index_outcome, knowledge_base_rows, search_columns
from ui.auth import acting_user
from ui.common import database, ensure_router, flash, live_jobs, reported_errors, show_flash

SOURCES = {"Folder": "folder", "Git repository": "git", "Upload files": "upload"}
_DEFAULTS = KnowledgeBaseConfig()


def indexed(job) -> None:
    """What a finished indexing job did, below it in the live list."""
    st.caption(index_outcome(job.result))
    if job.result.get("full_reembed_reason"):
        st.warning(f"Everything was embedded again: {job.result['full_reembed_reason']}.")


def settings_form(prefix: str) -> dict:
    """Chunking and model settings, shared by 'create' and 'preview'."""
    left, middle, right = st.columns(3)
    return dict(
        chunker=left.selectbox("Chunker", CHUNKERS, key=f"{prefix}_chunker",
                               help="code: functions/classes and markdown sections; recursive: paragraphs → "
                                    "sentences → words; fixed: windows; semantic: cut where the topic changes"),
        chunk_size=middle.number_input("Chunk size (characters)", 100, 20_000, _DEFAULTS.chunk_size, 100,
                                       key=f"{prefix}_size"),
        chunk_overlap=right.number_input("Overlap (characters)", 0, 5_000, _DEFAULTS.chunk_overlap, 50,
                                         key=f"{prefix}_overlap"),
    )


def show_skipped(skipped: list[dict]) -> None:
    if skipped:
        with st.expander(f"{len(skipped)} file(s) skipped"):
            st.dataframe(skipped, hide_index=True)


def create_section(db) -> None:
    st.subheader("Create a knowledge base")
    name = st.text_input("Name", key="kb_name", placeholder="team-docs")
    source = st.radio("Source", list(SOURCES), horizontal=True, key="kb_source")
    path, rev, uploads = "", "HEAD", []
    if SOURCES[source] == "upload":
        uploads = st.file_uploader("Files", accept_multiple_files=True, key="kb_uploads") or []
    else:
        path = st.text_input("Path on this machine", key="kb_path", placeholder="/home/me/project/docs")
    if SOURCES[source] == "git":
        rev = st.text_input("Revision", "HEAD", key="kb_rev", help="branch, tag or commit whose tracked files to index")
    settings = settings_form("kb")
    with st.expander("Models and limits"):
        model = st.text_input("Embedding model", DEFAULT_EMBEDDING_MODEL, key="kb_model",
                              help="the packaged default, or a local sentence-transformers folder")
        bfloat16 = st.checkbox("bfloat16 embeddings (used where the hardware has them)", True,
                               key="kb_bf16")
        reranker = st.text_input("Reranker (optional)", key="kb_reranker", placeholder="lm:smollm2",
                                 help="re-orders the fused candidates: a local cross-encoder folder, or `lm:smollm2` "
                                      "(the local language model, by how likely it finds the question after each "
                                      "chunk; ~6 s a search on 2 CPU cores, and it helped one bench set but not the "
                                      "other: see the README)")
        neighbours = st.number_input(
            "Neighbouring chunks added to each hit", 0, MAX_NEIGHBOURS, _DEFAULTS.neighbours, key="kb_neighbours",
            help="small-to-big: each hit arrives with the chunks around it (more context per answer, a longer prompt)")
        max_mb = st.number_input("Skip files larger than (MB)", 0.1, 1000.0, _DEFAULTS.max_file_bytes / 1e6,
                                 key="kb_max_mb")
    if st.button("Create and index", type="primary", key="kb_create"):
        with reported_errors():
            config = KnowledgeBaseConfig(source_kind=SOURCES[source], source_path=path, git_rev=rev,
                                         embedding_model=model, bfloat16=bfloat16, reranker_model=reranker,
                                         neighbours=int(neighbours), max_file_bytes=int(max_mb * 1e6), **settings)
            row, job = submit_index(db, name, config, [(f.name, f.getvalue()) for f in uploads], actor=acting_user())
            flash(f"Indexing {row.name} in the background (job {job.id}): follow it below; it goes on if you "
                  "close the page.", kb_selected=row.name)


def list_section(db, rows) -> None:
    st.dataframe(knowledge_base_rows(rows), hide_index=True)
    chosen = st.selectbox("Knowledge base", [r.name for r in rows], key="kb_selected")
    row = next(r for r in rows if r.name == chosen)
    show_skipped(row.skipped)
    reindex, delete, confirm = st.columns([1, 1, 2])
    if reindex.button("Re-index", key="kb_reindex", help="re-embeds only the files that changed, in the background; "
                      "the current index answers until the new one is complete"):
        with reported_errors():
            job = submit_reindex(db, chosen, actor=acting_user())
            flash(f"Re-indexing {chosen} in the background (job {job.id}).")
    sure = confirm.checkbox("Yes, delete it", key="kb_confirm_delete")
    if delete.button("Delete", key="kb_delete", disabled=not sure):
        with reported_errors():
            remove_knowledge_base(db, chosen, acting_user())
            flash(f"Deleted {chosen}.")
    search_section(db, chosen)


def search_section(db, name: str) -> None:
    st.subheader("Search")
    query = st.text_input("Query", key="kb_query", placeholder="How are tokens refreshed?")
    k = st.slider("Results per mode", 1, 20, 5, key="kb_k")
    if not query.strip():
        return
    with reported_errors():
        retriever = open_retriever(db, name)
        if retriever.reranker_model:
            st.caption(f"Every mode's candidates are reranked by `{retriever.reranker_model}`; its scores are shown.")
        results = search_columns(compare_modes(retriever, query, k))
        for column, result in zip(st.columns(len(results)), results):
            column.markdown(result.heading)
            for line, text in result.hits:
                column.markdown(line)
                column.code(text, language=None)


def preview_section() -> None:
    st.subheader("Chunk preview")
    path = st.text_input("A file to chunk", key="kb_preview_path", placeholder="/home/me/project/app/auth.py")
    settings = settings_form("kb_preview")
    if st.button("Preview chunks", key="kb_preview"):
        with reported_errors():
            chunks = preview_chunks(path, KnowledgeBaseConfig(**settings))
            st.caption(f"{len(chunks)} chunk(s)")
            st.dataframe(chunk_rows(chunks), hide_index=True)


ensure_router()
st.title("Knowledge")
st.caption("Knowledge bases are what RAG answers from: files chunked, embedded into Chroma and indexed for "
           "keywords (BM25). Search combines both by reciprocal rank fusion.")
show_flash()
db = database()
if db is not None:
    live_jobs(db, IndexJob.name, "Indexing", indexed, "Run it again")
    with reported_errors():
        knowledge_bases = list_knowledge_bases(db)
        if knowledge_bases:
            list_section(db, knowledge_bases)
        else:
            st.info("No knowledge base yet: create one below.")
    create_section(db)
    preview_section()
