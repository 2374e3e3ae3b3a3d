#!/usr/bin/env bash
# Make sure the programs used by the integration tests are installed.
#
#   mosquitto, mosquitto_pub  -> Debian packages mosquitto, mosquitto-clients
#   influxd                   -> influxdb (1.x)
#   docker-compose, mbpoll, socat
#   initdb, postgres          -> postgresql (the server programs stay in
#                                /usr/lib/postgresql/*/bin, off PATH)
#   chromium, chromedriver    -> chromium, chromium-driver (the status page's tests)
#   faketime                  -> faketime (libfaketime: the wall clock jumps in tests/faults)
#   jq, curl                  -> the commands of the docs (tests/integration/test_doc_commands.py)
#   a Chinese font            -> fonts-wqy-microhei (the status page's screenshots show 中文)
#
# The tests start their own Mosquitto/InfluxDB instances on free ports (see
# bench/harness/), so the system services must NOT be running:
# package installation is done with a policy-rc.d that forbids starting them.
#
# Prints nothing and exits 0 when everything is present.  As root, installs
# what is missing with apt-get.  Otherwise prints the command to run and
# exits 1.
set -euo pipefail

readonly POLICY_RC_D=/usr/sbin/policy-rc.d

# "command:package" pairs.
readonly REQUIREMENTS=(
    mosquitto:mosquitto
    mosquitto_pub:mosquitto-clients
    influxd:influxdb
    docker-compose:docker-compose
    mbpoll:mbpoll
    socat:socat
    initdb:postgresql
    chromium:chromium
    chromedriver:chromium-driver
    faketime:faketime
    jq:jq
    curl:curl
)

# True if $1 is on PATH or in an sbin directory (often not on a user's PATH).
have() {
    command -v "$1" >/dev/null 2>&1 && return 0
    local dir
    for dir in /usr/sbin /usr/local/sbin /sbin /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/$1" ]] && return 0
    done
    return 1
}

# Prints the packages whose command is missing, space-separated.
missing_packages() {
    local entry missing=()
    for entry in "${REQUIREMENTS[@]}"; do
        if ! have "${entry%%:*}"; then
            missing+=("${entry#*:}")
        fi
    done
    if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
        missing+=(fonts-wqy-microhei)
    fi
    echo "${missing[*]:-}"
}

read -r -a missing <<<"$(missing_packages)"
if ((${#missing[@]} == 0)); then
    exit 0
fi

install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [[ "$(id -u)" -ne 0 ]]; then
    {
        echo "setup-services: missing Debian packages: ${missing[*]}"
        echo "setup-services: run as root:"
        echo "  apt-get update && $install_cmd"
    } >&2
    exit 1
fi

echo "setup-services: installing ${missing[*]}"

log="$(mktemp -t setup-services.XXXXXX.log)"
created_policy=0
cleanup() {
    if ((created_policy)); then
        rm -f "$POLICY_RC_D"
    fi
    rm -f "$log"
}
trap cleanup EXIT

# invoke-rc.d and deb-systemd-invoke consult policy-rc.d; exit status 101
# means "action forbidden", so postinst scripts do not start the daemons.
if [[ ! -e "$POLICY_RC_D" ]]; then
    printf '#!/bin/sh\n# Temporary, from facmon tests/setup-services.sh\nexit 101\n' >"$POLICY_RC_D"
    chmod 0755 "$POLICY_RC_D"
    created_policy=1
fi

run_logged() {
    if ! "$@" >>"$log" 2>&1; then
        echo "setup-services: failed: $*" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

run_logged apt-get update
run_logged env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

# Belt and braces (e.g. a pre-existing policy-rc.d that allows starts): stop
# any daemon that the freshly installed packages may have started anyway.
for pkg in "${missing[@]}"; do
    case "$pkg" in
        mosquitto) service=mosquitto ;;
        influxdb) service=influxdb ;;
        postgresql) service=postgresql ;;
        *) continue ;;
    esac
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl stop "$service" >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$service" ]]; then
        "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    fi
done

read -r -a still_missing <<<"$(missing_packages)"
if ((${#still_missing[@]} > 0)); then
    echo "setup-services: still missing after install: ${still_missing[*]}" >&2
    exit 1
fi
