#!/usr/bin/env bash
# Install the inversion-table controller as a systemd service on Raspberry Pi OS (Bookworm).
#
#   sudo systemd/install.sh [--hardware-watchdog] [--dry-run]
#
# Run from a clone of the repository. Safe to run again: it skips what is already done, never
# overwrites /etc/inversion-table/config.toml, and never starts or restarts the service.
#   --hardware-watchdog  also let systemd feed the Pi's hardware watchdog (reboots a hung Pi)
#   --dry-run            print every command that would change the system, change nothing
# For tests, the paths can be moved: PREFIX, ETC_DIR, STATE_DIR, UNIT_DIR, SYSTEM_CONF_DIR,
# BOOT_CONFIG.
set -euo pipefail
umask 022 # the venv and the copied sources must be readable by the service user

usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

DRY_RUN=0
HW_WATCHDOG=0
for arg in "$@"; do
    case $arg in
        --dry-run) DRY_RUN=1 ;;
        --hardware-watchdog) HW_WATCHDOG=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=${PREFIX:-/opt/inversion-table}
ETC_DIR=${ETC_DIR:-/etc/inversion-table}
STATE_DIR=${STATE_DIR:-/var/lib/inversion-table}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
SYSTEM_CONF_DIR=${SYSTEM_CONF_DIR:-/etc/systemd/system.conf.d}
BOOT_CONFIG=${BOOT_CONFIG:-}
SERVICE=inversion-table
SERVICE_USER=inversion-table
UNIT_SRC=$SRC_DIR/systemd/$SERVICE.service
CONFIG_EXAMPLE=$SRC_DIR/systemd/config.example.toml
NETWORK_SRC=$SRC_DIR/systemd/network.conf
ALERTS_SRC=$SRC_DIR/systemd/alerts.conf
# Debian's lgpio binding; pip cannot build it without the C library. The Pi's RPi.GPIO
# dependency has no aarch64 wheel, so pip compiles it: python3-dev and gcc.
APT_PACKAGES=(python3-venv python3-pip python3-lgpio i2c-tools python3-dev gcc)
REBOOT_REASONS=()

die() { echo "install.sh: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# Runs a command that changes the system; with --dry-run, prints it instead (shell-quoted).
run() {
    if ((DRY_RUN)); then
        local arg line='+'
        for arg in "$@"; do
            if [[ $arg =~ ^[][A-Za-z0-9_@%+=:,./-]+$ ]]; then line+=" $arg"; else line+=" $(printf '%q' "$arg")"; fi
        done
        printf '%s\n' "$line"
    else
        "$@"
    fi
}

# Writes $2 to file $1 (mode 0644) unless it already holds exactly that; sets CHANGED.
write_file() {
    local path=$1 content=$2
    CHANGED=0
    if [[ -f $path ]] && [[ "$(cat "$path")" == "$content" ]]; then
        note "$path is up to date"
        return 0
    fi
    CHANGED=1
    if ((DRY_RUN)); then
        printf '+ write %q:\n' "$path"
        printf '%s\n' "$content" | sed 's/^/      /'
    else
        printf '%s\n' "$content" >"$path.tmp"
        chmod 0644 "$path.tmp"
        mv -f "$path.tmp" "$path"
    fi
}

# Appends line $2 to file $1.
append_line() {
    if ((DRY_RUN)); then
        printf '+ append to %q: %s\n' "$1" "$2"
    else
        printf '%s\n' "$2" >>"$1"
    fi
}

# Refuses, or in a dry run only warns, so a dry run works on any machine.
refuse() {
    if ((DRY_RUN)); then
        echo "install.sh: (dry run, continuing) a real run would stop here: $*" >&2
    else
        die "$*"
    fi
}

# --- Preflight: nothing has changed yet. ---
if ((!DRY_RUN)) && [[ $(id -u) -ne 0 ]]; then
    die "must run as root: sudo $(printf '%q ' "$0" "$@")(or add --dry-run to see what it would do)"
fi
# shellcheck source=/dev/null
os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-} ${ID_LIKE:-}") || os_id=""
[[ " $os_id " == *" debian "* || " $os_id " == *" raspbian "* ]] ||
    refuse "this installer is for Raspberry Pi OS or Debian (found: ${os_id:-no /etc/os-release})"
[[ -d /run/systemd/system ]] || refuse "systemd is not running (no /run/systemd/system)"
command -v apt-get >/dev/null || refuse "apt-get not found"
[[ -f $UNIT_SRC ]] || refuse "missing $UNIT_SRC: run this from a clone of the repository"
[[ -f $CONFIG_EXAMPLE ]] || refuse "missing $CONFIG_EXAMPLE"
if systemctl is-active --quiet "$SERVICE" 2>/dev/null; then
    echo "install.sh: $SERVICE is running; it keeps the old code until you restart it yourself," \
        "when nobody is on the table." >&2
fi
if ((DRY_RUN)); then echo "Dry run: commands that would change the system are printed with '+', none is run."; fi

step "Debian packages"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
    note "installed: ${APT_PACKAGES[*]}"
fi

step "I2C"
if command -v raspi-config >/dev/null; then
    # `get_i2c` prints 0 when I2C is enabled.
    if [[ $(raspi-config nonint get_i2c 2>/dev/null) == 0 ]]; then
        note "I2C is already enabled"
    else
        run raspi-config nonint do_i2c 0
        REBOOT_REASONS+=("I2C was just enabled")
    fi
else
    note "raspi-config not found: enable I2C yourself, then reboot. Add the line"
    note "    dtparam=i2c_arm=on"
    note "to /boot/firmware/config.txt (/boot/config.txt on older images) and the line"
    note "    i2c-dev"
    note "to /etc/modules. Continuing."
fi

step "Service user $SERVICE_USER (groups gpio, i2c)"
for group in gpio i2c; do
    if getent group "$group" >/dev/null; then
        note "group $group exists"
    else
        run groupadd --system "$group"
        note "created group $group: make sure a udev rule gives it the /dev/${group/gpio/gpiochip}*" \
            "devices (Raspberry Pi OS ships one)"
    fi
done
if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    note "user $SERVICE_USER exists"
    user_groups=" $(id -nG "$SERVICE_USER") "
    if [[ $user_groups != *" gpio "* || $user_groups != *" i2c "* ]]; then
        run usermod --append --groups gpio,i2c "$SERVICE_USER"
    fi
else
    # System user: no login shell, no home.
    if getent group "$SERVICE_USER" >/dev/null; then own_group=(--gid "$SERVICE_USER"); else own_group=(--user-group); fi
    run useradd --system "${own_group[@]}" --groups gpio,i2c --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
fi

step "Program in $PREFIX"
if [[ $SRC_DIR -ef $PREFIX/src ]]; then
    note "running from $PREFIX/src itself: sources left as they are"
else
    run rm -rf "$PREFIX/src"
    run install -d -m 0755 "$PREFIX/src"
    if ((DRY_RUN)); then
        printf '+ copy %q to %q (without .git, virtual environments and caches)\n' "$SRC_DIR" "$PREFIX/src"
    else
        tar -C "$SRC_DIR" --exclude=.git --exclude=.venv --exclude=venv --exclude=__pycache__ \
            --exclude='*.egg-info' --exclude=.pytest_cache --exclude=.hypothesis --exclude=build \
            -cf - . | tar -C "$PREFIX/src" --no-same-owner -xf -
    fi
fi
if [[ -x $PREFIX/venv/bin/python ]]; then
    note "virtual environment $PREFIX/venv exists"
else
    # --system-site-packages: lgpio comes from Debian's python3-lgpio (built against the system
    # liblgpio); a plain venv could not import it.
    run python3 -m venv --system-site-packages "$PREFIX/venv"
fi
run "$PREFIX/venv/bin/pip" install --disable-pip-version-check --no-cache-dir --upgrade "$PREFIX/src"

step "Config in $ETC_DIR"
run install -d -m 0755 "$ETC_DIR"
if [[ -e $ETC_DIR/config.toml ]]; then
    note "keeping the existing $ETC_DIR/config.toml (never overwritten)"
else
    run install -m 0644 "$CONFIG_EXAMPLE" "$ETC_DIR/config.toml"
fi

step "Calibration directory $STATE_DIR"
run install -d -m 0755 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"

if ((HW_WATCHDOG)); then
    step "Hardware watchdog"
    if [[ -z $BOOT_CONFIG ]]; then
        if [[ -f /boot/firmware/config.txt ]]; then BOOT_CONFIG=/boot/firmware/config.txt
        elif [[ -f /boot/config.txt ]]; then BOOT_CONFIG=/boot/config.txt
        fi
    fi
    if [[ -z $BOOT_CONFIG || ! -f $BOOT_CONFIG ]]; then
        note "no /boot/firmware/config.txt or /boot/config.txt: add dtparam=watchdog=on to the"
        note "firmware's config.txt yourself"
    elif grep -Eq '^[[:space:]]*dtparam=watchdog=on[[:space:]]*$' "$BOOT_CONFIG"; then
        note "dtparam=watchdog=on is already in $BOOT_CONFIG"
    else
        append_line "$BOOT_CONFIG" "dtparam=watchdog=on"
        REBOOT_REASONS+=("the hardware watchdog was just enabled")
    fi
    # systemd feeds /dev/watchdog and the Pi resets if systemd itself hangs. 15 s is the most the
    # BCM2835 watchdog can time (0xfffff ticks of 1/65536 s; drivers/watchdog/bcm2835_wdt.c).
    run install -d -m 0755 "$SYSTEM_CONF_DIR"
    write_file "$SYSTEM_CONF_DIR/$SERVICE-watchdog.conf" "# Installed by inversion-table's install.sh --hardware-watchdog.
[Manager]
RuntimeWatchdogSec=15s"
    if ((CHANGED)); then REBOOT_REASONS+=("systemd reads RuntimeWatchdogSec= at boot"); fi
fi

step "systemd unit"
run install -m 0644 "$UNIT_SRC" "$UNIT_DIR/$SERVICE.service"
# The unit has no network. The phone remote ([remote] listen) and MQTT ([mqtt]) need one: a
# drop-in allows the local network while either is on in the config (run this again after
# turning one on or off).
config_file=$ETC_DIR/config.toml
[[ -f $config_file ]] || config_file=$CONFIG_EXAMPLE
# Prints yes or no: whether the Python expression $1 holds for the config (as `config`, a dict);
# unknown if the file cannot be read.
config_says() {
    python3 - "$config_file" "$1" <<'PY' 2>/dev/null || echo unknown
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    config = tomllib.load(f)
print("yes" if eval(sys.argv[2], {"config": config}) else "no")
PY
}
# Installs the drop-in $1 (from $2) while $3 is yes, removes it while no; $4 and $5 say why.
drop_in() {
    local path=$UNIT_DIR/$SERVICE.service.d/$1
    if [[ $3 == yes ]]; then
        note "$config_file $4"
        run install -d -m 0755 "$UNIT_DIR/$SERVICE.service.d"
        run install -m 0644 "$2" "$path"
    elif [[ $3 == no ]]; then
        note "$config_file $5"
        if [[ -e $path ]]; then run rm -f "$path"; fi
    else
        note "could not read $config_file: the drop-in $1 is left as it is"
    fi
}
drop_in network.conf "$NETWORK_SRC" "$(config_says '(config.get("remote") or {}).get("listen") or "mqtt" in config')" \
    "turns on the remote or MQTT: the service may use the local network" \
    "turns on neither the remote nor MQTT: the service has no network"
# Alerts ([alerts] urls) go to servers anywhere (ntfy.sh, a mail server): their own drop-in.
drop_in alerts.conf "$ALERTS_SRC" "$(config_says '(config.get("alerts") or {}).get("urls")')" \
    "lists [alerts] urls: the service may connect out to send alerts" \
    "lists no [alerts] urls: no alerts"
run systemctl daemon-reload
# Enabled so it starts at boot; not started now: calibrate first.
run systemctl enable "$SERVICE"

BIN=$PREFIX/venv/bin/inversion-table
CONFIG=$ETC_DIR/config.toml
step "Next steps (the service is enabled but not started)"
n=0
if ((${#REBOOT_REASONS[@]})); then
    n=1
    reasons=$(printf '%s; ' "${REBOOT_REASONS[@]}")
    printf '  1. Reboot (%s):\n       sudo reboot\n' "${reasons%; }"
fi
cat <<EOF
  $((n + 1)). Edit the config for this table (home angle, drive, pins, sensor mounting, limits):
       sudo nano $CONFIG
  $((n + 2)). Check the wiring and the sensors, as the service user:
       sudo -u $SERVICE_USER $BIN doctor --config $CONFIG
  $((n + 3)). Calibrate, with nobody on the table (writes $STATE_DIR/calibration.json):
       sudo $BIN calibrate --config $CONFIG
  $((n + 4)). Start the service and follow its log:
       sudo systemctl start $SERVICE
       journalctl -u $SERVICE -f
  $((n + 5)). Test the hardware e-stop before anyone lies on the table (docs/HARDWARE.md).
EOF
if ((DRY_RUN)); then printf '\nDry run: nothing was changed.\n'; fi
exit 0
