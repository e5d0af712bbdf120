"""Simulated hardware: only the lowest layer is swapped, everything above runs as on the Pi."""
