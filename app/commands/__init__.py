"""One module per CLI command; app/cli.py registers those that exist."""
