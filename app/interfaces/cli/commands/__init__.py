"""One module per CLI command; app/interfaces/cli/main.py registers them."""
