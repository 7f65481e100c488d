"""Repositories take a session and never commit: the unit of work owns the transaction."""
