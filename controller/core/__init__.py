"""The pure decisions: plain values in, decisions out; no threads, clocks, I/O or drivers."""
