# Shared set-up for scripts/main.sh and scripts/test.sh: system packages, then the virtualenv.
# Sourced, not run. Usage: lk_setup "<apt packages>" "<pip extras>"
set -euo pipefail

lk_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

lk_apt_install() {
  local missing=()
  for package in "$@"; do
    # Node.js often comes from NodeSource, whose nodejs package ships npm and conflicts with
    # Debian's npm package: a working command is enough for these two.
    case $package in
      nodejs) command -v node >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

lk_setup() {
  local packages=$1 extras=$2
  if command -v apt-get >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    lk_apt_install $packages
  fi
  cd "$lk_root"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e ".${extras}" 2>&1 \
    | grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true
  # compat mode: a .pth path entry instead of an import hook that costs every start ~10 ms.
  .venv/bin/python -c "import lkpolicy" # fail loudly if the install did not work
}
