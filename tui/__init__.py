"""The coordinators' console: a Textual app to watch and unblock cases."""
