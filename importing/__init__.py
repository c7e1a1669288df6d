"""Batch import of applications (批量导入): CSV, XLSX and JSON Lines files exported from a
window system or typed in Excel, checked row by row, then started as cases through
``client.facade.CaseDesk``.

* :mod:`importing.columns` — which headers mean what (English or Chinese, plus each
  chain's form fields by field name or by the Chinese ``description`` of the form model).
* :mod:`importing.readers` — turning a file into a header and numbered rows
  (encoding detection for CSV, read-only XLSX, JSON Lines).
* :mod:`importing.validate` — every row checked before anything starts; each problem
  names the row, the column and the reason.
* :mod:`importing.starter` — starting the valid rows with bounded concurrency,
  idempotently (the case number is the workflow key), stopping cleanly.
* :mod:`importing.docs` — the column reference in ``docs/import-format.md``, generated
  from the chains' form models.

Nothing here imports Typer or Rich: the CLI (``cli/importer.py``) and the demo seeding
(``simulator/demo.py``) share this code.
"""
