"""Streamlit helpers shared by the pages: layout only, no logic."""
