"""The SQL read model (SQLModel): a rebuildable projection of the case workflows.

``tables`` defines the rows, ``database`` the engines and sessions, ``projection``
the idempotent writes (called only from activities) and ``queries`` the reads the
CLI and TUI use. No Temporal imports here; workflow code never imports this package.
"""
