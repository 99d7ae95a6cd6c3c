"""The data engineer's verbs over Dagster and the warehouse: build, trace, diff, versions,
forget and republish, validate and import (main.py holds the command line)."""
