"""Decisions (pure) and the loop that runs them, for a motorized inversion table."""
