"""RAG-or-Tune Lab core: every piece of logic the dashboard and the CLI share.

Nothing in this package imports streamlit, so it can be imported, tested and
scripted without a browser.
"""
