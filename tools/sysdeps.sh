#!/bin/sh
# Install the system packages `make test` and `make bench` need, or say which
# ones are missing.  Usage: tools/sysdeps.sh command:package ...
#
# Each argument names a command and the Debian package that provides it.
# Nothing happens when every command is on PATH.  Where apt-get exists the
# missing packages are installed unattended (through sudo when not root); on
# any other system the script stops with the list to install by hand.
set -u

missing_cmds=""
missing_pkgs=""
for pair in "$@"; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing_cmds="$missing_cmds $cmd"
    case " $missing_pkgs " in
      *" $pkg "*) ;;
      *) missing_pkgs="$missing_pkgs $pkg" ;;
    esac
  fi
done
[ -z "$missing_pkgs" ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    sudo=""
  elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    sudo=none
  fi
  if [ "$sudo" != none ]; then
    echo "sysdeps: installing$missing_pkgs (for$missing_cmds)"
    # shellcheck disable=SC2086 # word splitting of the package list is wanted
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends $missing_pkgs \
      && exit 0
    echo "sysdeps: apt-get could not install$missing_pkgs" >&2
    exit 1
  fi
fi

# printf, not cat: this must work with an empty PATH.
printf 'sysdeps: these commands are missing:%s\n' "$missing_cmds" >&2
printf 'Install them with your system package manager, then run make again.\n' >&2
printf 'Debian/Ubuntu packages:%s\n' "$missing_pkgs" >&2
exit 1
