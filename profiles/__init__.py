"""Session profiles: the pydantic models of the profile format and the built-in presets."""
