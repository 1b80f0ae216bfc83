"""Streamlit-side glue: page setup and filters, the connection, cached loaders, formatting."""
