"""cpmsurvey's user-facing layer: CLI, settings, the LangGraph workflow and the UI."""
