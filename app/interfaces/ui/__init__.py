"""The Streamlit web app (`cpmsurvey ui`): pages that call the run API (app.workflow) and
the settings. main.py is the script Streamlit serves."""

from pathlib import Path

APP_SCRIPT = Path(__file__).resolve().parent / "main.py"
# Largest upload accepted (MB): the server's limit and the upload form's.
MAX_UPLOAD_MB = 200
