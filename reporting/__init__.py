"""Reports over the SQL read model (办件量, 办结率, 按时办结率, overdue, working days).

Pure functions: they take a read-model session, a working-day calendar and the
chains' limits, and return pydantic models the CLI prints as tables, CSV or JSON.
No Temporal, no Typer here.
"""
