"""cpmsurvey: the workflow (app.workflow), its interfaces (app.interfaces) and the settings."""
