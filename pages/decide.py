"""Decide"""
import streamlit as st
st.title("Decide")
