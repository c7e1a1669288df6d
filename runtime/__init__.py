"""Process-level plumbing: settings, the embedded dev server, Temporal connections."""
