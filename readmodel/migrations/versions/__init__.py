"""One file per schema revision: ``NNNN_slug.py`` with ``revision = "NNNN_slug"``."""
