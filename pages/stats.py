"""Placeholder until its issue lands."""

import streamlit as st

st.title("stats")
st.info("This page is being built.")
