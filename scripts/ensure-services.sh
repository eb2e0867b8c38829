#!/usr/bin/env bash
# Makes sure the PostgreSQL and RabbitMQ this project needs are reachable,
# starting the local installations when they are not (as on the development
# and CI machines). On a Debian or Ubuntu machine that has neither server
# installed, it installs the distribution's packages first (apt-get, as root
# or through sudo), as scripts/install-toolchains.sh does for the toolchains,
# and lets the new PostgreSQL cluster trust connections from 127.0.0.1 (what
# .env.dev's password-less URL needs). Exits non-zero, saying how to start
# them, if that fails.
set -euo pipefail

SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_install() { # package...
  if ! command -v apt-get >/dev/null; then
    echo "error: $* not installed and no apt-get here; install PostgreSQL and RabbitMQ yourself (see README, 'Run it')" >&2
    exit 1
  fi
  echo "installing: $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# A cluster this script has just installed accepts the local development
# user without a password over TCP from this machine only.
trust_loopback() {
  local version hba
  version=$(ls /etc/postgresql | sort -n | tail -n1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  echo "letting PostgreSQL $version trust connections from 127.0.0.1 ($hba)"
  $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
}

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # name host port seconds
  local deadline=$((SECONDS + $4))
  until reachable "$2" "$3"; do
    if ((SECONDS >= deadline)); then
      echo "error: $1 is not reachable at $2:$3" >&2
      return 1
    fi
    sleep 1
  done
}

if ! reachable 127.0.0.1 5432; then
  if ! command -v pg_ctlcluster >/dev/null && ! installed postgresql; then
    apt_install postgresql
    trust_loopback
  fi
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -n | tail -n1)" main start || true
  fi
  wait_for PostgreSQL 127.0.0.1 5432 60 || {
    echo "start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
    exit 1
  }
fi

if ! reachable 127.0.0.1 5672; then
  if ! command -v rabbitmq-server >/dev/null && ! installed rabbitmq-server; then
    apt_install rabbitmq-server
  fi
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    $SUDO rabbitmq-server -detached || true
  fi
  wait_for RabbitMQ 127.0.0.1 5672 120 || {
    echo "start it with: rabbitmq-server -detached" >&2
    exit 1
  }
fi
