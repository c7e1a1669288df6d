"""电子监察 (issue 22): rules over the case events and the audit trail, and their findings."""
