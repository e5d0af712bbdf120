"""Hardware behind small interfaces: IMU, stepper motor, buttons."""
