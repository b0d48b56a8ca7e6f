"""The ways in: the command line, batch mode and the web UI, all over app.workflow."""
