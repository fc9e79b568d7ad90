"""Placeholder until its issue lands."""

import streamlit as st

st.title("export")
st.info("This page is being built.")
