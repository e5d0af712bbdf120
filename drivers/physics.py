"""Physical constants, each defined once for the drivers and the application (this module imports nothing)."""

STANDARD_GRAVITY = 9.80665  # m/s² per g: the value the MPU-6050 datasheet's LSB/g figures assume
