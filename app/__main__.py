"""`python -m app` runs the cpmsurvey CLI."""

from app.interfaces.cli.main import main

main()
