"""Pure domain: models, working-day arithmetic, roles. No I/O, no Temporal, no SQL.

Everything here is safe to run inside a Temporal workflow sandbox and is passed
through the sandbox (see ``worker.py``), so keep it free of side effects.
"""
