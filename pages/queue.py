"""Placeholder until its issue lands."""

import streamlit as st

st.title("queue")
st.info("This page is being built.")
