"""Placeholder until its issue lands."""

import streamlit as st

st.title("thread")
st.info("This page is being built.")
