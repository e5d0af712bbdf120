"""The files people write, read and checked: config, profiles against it, calibration, users, schedules."""
