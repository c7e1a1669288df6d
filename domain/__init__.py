"""Pure domain: models, working-day arithmetic, roles. No I/O, no Temporal, no SQL.

Cases run this code as it is replayed (see ``worker.workflow_runner``), so keep it
free of side effects: ``tests/test_workflow_determinism.py`` checks the modules a
case loads.
"""
