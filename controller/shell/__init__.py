"""The imperative shell: one table built from the config, and the clocks that drive it."""
