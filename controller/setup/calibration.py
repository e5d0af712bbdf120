"""Calibration: the level offset and gyro bias, the mount and drive checks (pure), and their file."""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Sequence

from pydantic import Field, ValidationError

from controller.errors import CalibrationError
from controller.setup.validation import StrictModel
from drivers.physics import STANDARD_GRAVITY

FILE_VERSION = 1

# The level measurement: the table must be still, and the sensor roughly square to the bed.
MAX_LEVEL_SPREAD = 0.3      # deg, standard deviation of the tilt while level
MAX_REST_RATE_SPREAD = 0.5  # deg/s, standard deviation of the gyro at rest
MAX_GYRO_BIAS = 20.0        # deg/s: the MPU-6050's zero-rate output is within ±20 (datasheet)
MAX_ZERO_OFFSET = 10.0      # deg: a "level" bed reading more than this is not level, or the mount is wrong
GRAVITY_RANGE = (0.9, 1.1)  # g, the accelerometer's magnitude at rest
# The tilt check: the user jogs head-down by about CHECK_TILT degrees.
CHECK_TILT = 10.0           # deg asked for
MIN_CHECK_TILT = 5.0        # deg: less than this is too little to judge the axis
MAX_DRIVE_ERROR = 0.10      # a 10 % mismatch between steps and measured tilt means steps_per_degree is wrong

_AXES = "xyz"


@dataclass(frozen=True)
class Level:
    """The level measurement: offset to subtract, gyro bias, and how steady it was."""

    zero_offset: float
    gyro_bias: tuple[float, float, float]
    accel: tuple[float, float, float]  # mean specific force, m/s², sensor frame
    tilt_spread: float
    rate_spread: float


def _mean3(vectors: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    return tuple(statistics.fmean(v[i] for v in vectors) for i in range(3))  # type: ignore[return-value]


def _axis_name(vec: Sequence[float]) -> str:
    """The signed sensor axis a vector lies mostly along: '+z', '-x', ..."""
    i = max(range(3), key=lambda k: abs(vec[k]))
    return ("+" if vec[i] >= 0 else "-") + _AXES[i]


def measure_level(samples: Sequence, mount) -> Level:
    """The level measurement from samples taken with the bed level and still; CalibrationError if not."""
    if len(samples) < 10:
        raise CalibrationError(f"only {len(samples)} good IMU samples while level; check the sensor's wiring")
    accel = _mean3([s.accel for s in samples])
    gravity = math.sqrt(sum(a * a for a in accel)) / STANDARD_GRAVITY
    if not GRAVITY_RANGE[0] <= gravity <= GRAVITY_RANGE[1]:
        raise CalibrationError(f"the accelerometer reads {gravity:.2f} g at rest, not about 1 g: the sensor is faulty")
    up = _axis_name(accel)
    if up != mount.normal:
        raise CalibrationError(
            f"with the bed level, gravity lies along the sensor's {up} axis, but [imu] normal = '{mount.normal}': "
            f"set [imu] normal = '{up}' (and check [imu] forward), or level the bed"
        )
    tilts = [mount.raw_tilt_deg(s.accel) for s in samples]
    rates = [mount.rate_dps(s.gyro) + _dot(mount.gyro_bias, mount.pivot_vec) for s in samples]
    level = Level(
        zero_offset=statistics.fmean(tilts),
        gyro_bias=_mean3([s.gyro for s in samples]),
        accel=accel,
        tilt_spread=statistics.pstdev(tilts),
        rate_spread=statistics.pstdev(rates),
    )
    if level.tilt_spread > MAX_LEVEL_SPREAD or level.rate_spread > MAX_REST_RATE_SPREAD:
        raise CalibrationError(
            f"the table was not still while level (tilt varied by {level.tilt_spread:.2f}°, rate by "
            f"{level.rate_spread:.2f}°/s; at most {MAX_LEVEL_SPREAD}° and {MAX_REST_RATE_SPREAD}°/s): nobody on "
            "it, nothing running nearby, and try again"
        )
    if abs(level.zero_offset) > MAX_ZERO_OFFSET:
        raise CalibrationError(
            f"the level bed reads {level.zero_offset:+.1f}° (more than {MAX_ZERO_OFFSET:g}°): level the bed "
            "with a spirit level, or mount the sensor flat on the frame"
        )
    if max(abs(b) for b in level.gyro_bias) > MAX_GYRO_BIAS:
        raise CalibrationError(f"the gyro reads {max(abs(b) for b in level.gyro_bias):.1f}°/s at rest "
                               f"(more than the chip's ±{MAX_GYRO_BIAS:g}): the sensor is faulty")
    return level


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def check_tilt(level: Level, tilted: Sequence, *, commanded: float, mount) -> float:
    """Check the mount's forward axis and the drive from a head-down jog of ``commanded`` degrees.

    Head-down by θ, the specific force along the forward axis falls by sin θ (tilt = atan2(-f·fwd,
    f·nrm)), so the axis that changed most, with its sign flipped, is the true forward axis.
    Returns the measured tilt; CalibrationError says what to change.
    """
    if commanded < MIN_CHECK_TILT:
        raise CalibrationError(f"the table tilted only {commanded:.1f}° by its steps; hold down until it has "
                               f"tilted about {CHECK_TILT:g}° (at least {MIN_CHECK_TILT:g}°)")
    if len(tilted) < 10:
        raise CalibrationError("too few IMU samples after the tilt; check the sensor's wiring")
    accel = _mean3([s.accel for s in tilted])
    change = tuple(a - b for a, b in zip(accel, level.accel))
    forward = _axis_name(tuple(-c for c in change))
    if forward != mount.forward:
        raise CalibrationError(
            f"tilting head-down moved gravity along the sensor's {forward[1]} axis the other way than "
            f"[imu] forward = '{mount.forward}' expects: set [imu] forward = '{forward}' and calibrate again"
        )
    measured = statistics.fmean(mount.raw_tilt_deg(s.accel) for s in tilted) - level.zero_offset
    error = measured / commanded - 1.0
    if abs(error) > MAX_DRIVE_ERROR:
        raise CalibrationError(
            f"the motor stepped {commanded:.1f}° but the table tilted {measured:.1f}° ({error:+.0%}): the drive "
            f"is slipping, or steps_per_degree is wrong (it would be {commanded / measured:.3g} times the "
            "configured value)"
        )
    return measured


# --- the file ---------------------------------------------------------------------------------

_Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
_Bias = Annotated[float, Field(ge=-MAX_GYRO_BIAS, le=MAX_GYRO_BIAS)]


class Calibration(StrictModel):
    """What `inversion-table calibrate` measured; written as JSON, read back through this model."""

    version: Literal[1] = FILE_VERSION
    forward: _Axis
    normal: _Axis
    zero_offset: Annotated[float, Field(ge=-MAX_ZERO_OFFSET, le=MAX_ZERO_OFFSET)]
    gyro_bias: tuple[_Bias, _Bias, _Bias]
    tilt_checked: Annotated[float, Field(ge=MIN_CHECK_TILT, le=90)]  # deg the mount check tilted the table
    steps_per_degree: float  # the config's value when calibrated
    created: str  # when, for people (wall clock; nothing decides anything by it)


def check_writable(path: str | Path) -> None:
    """Refuse before the procedure starts, rather than after the person has done it all."""
    folder = Path(path).parent
    if Path(path).is_dir():
        raise CalibrationError(f"{path}: is a folder; name a file (--calibration or [calibration] file)")
    if Path(path).exists() and not os.access(path, os.W_OK):
        raise CalibrationError(f"{path}: no permission to replace it: run calibrate with sudo")
    if not folder.is_dir():
        raise CalibrationError(f"{path}: the folder {folder} does not exist (systemd/install.sh creates it): "
                               "create it, or name another file (--calibration or [calibration] file)")
    if not os.access(folder, os.W_OK):
        raise CalibrationError(f"{path}: no permission to write in {folder}: run calibrate with sudo")


def save(path: str | Path, calibration: Calibration) -> None:
    """Write atomically: a power cut leaves the old file or the new one, never half of one."""
    try:
        _save(Path(path), calibration)
    except OSError as e:
        raise CalibrationError(f"{path}: cannot write the calibration: {e.strerror or e}") from None


def _save(path: Path, calibration: Calibration) -> None:
    data = json.dumps(calibration.model_dump(mode="json"), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # the service's user reads it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def calibrate_command(path: str | Path, *, simulated: bool, default: str | Path | None = None) -> str:
    """The command that makes the calibration ``path`` (with --calibration unless it is ``default``)."""
    command = "inversion-table calibrate" + (" --sim" if simulated else "")
    if default is not None and Path(path) != Path(default):
        command += f" --calibration {path}"
    return command


def load(path: str | Path, config, *, again: str = "run `inversion-table calibrate`") -> Calibration:
    """The calibration in ``path``, checked against the config; CalibrationError says what to do
    (``again``: what makes a new one; empty, when the caller says it another way)."""
    tail = f": {again}" if again else ""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no calibration yet{tail}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{path}: cannot read the calibration: {getattr(e, 'strerror', None) or e}") from None
    try:
        cal = Calibration.model_validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise CalibrationError(f"{path}: not a valid calibration ({where}: {first['msg']}){tail}") from None
    if (cal.forward, cal.normal) != (config.imu.forward, config.imu.normal):
        raise CalibrationError(
            f"{path}: calibrated with the sensor's forward '{cal.forward}' and normal '{cal.normal}', but [imu] "
            f"now says '{config.imu.forward}' and '{config.imu.normal}'{tail}"
        )
    if not math.isclose(cal.steps_per_degree, config.steps_per_degree, rel_tol=1e-9):
        raise CalibrationError(
            f"{path}: calibrated with {cal.steps_per_degree:g} steps per degree, but the config now gives "
            f"{config.steps_per_degree:g}{tail}"
        )
    return cal


def mount_for(config, calibration: Calibration | None):
    """The sensor's mount as configured, corrected by the calibration when there is one."""
    from drivers.imu import Mount

    if calibration is None:
        return Mount(config.imu.forward, config.imu.normal)
    return Mount(config.imu.forward, config.imu.normal, zero_offset=calibration.zero_offset,
                 gyro_bias=tuple(calibration.gyro_bias))
