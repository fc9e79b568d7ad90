"""Placeholder until its issue lands."""

import streamlit as st

st.title("threads")
st.info("This page is being built.")
