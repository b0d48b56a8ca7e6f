"""`python -m app` runs the cpmsurvey CLI."""

from app.cli import main

main()
