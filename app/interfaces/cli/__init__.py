"""The `cpmsurvey` command line: a typer app (main.py) and one module per command (commands/)."""
