"""The console's screens: overview, cases, one case, departments, and dialogs."""
