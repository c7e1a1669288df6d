"""One module per supervision rule; each exposes ``RULE`` (see ``supervision.rule``)."""
