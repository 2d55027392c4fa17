#!/usr/bin/env bash
# The two commands of README.md:
#   ./dev.sh serve [--port N]     set up, build dist/ and serve it on http://127.0.0.1:8000/
#   ./dev.sh test [pytest args]   set up (Python venv, npm, Chromium), build, run every test
# and three more:
#   ./dev.sh build                set up and build dist/ (what `npm pack` then packs: dist/lib/)
#   ./dev.sh bench [--quick]      the benchmark: prints a table, writes bench/results.json
#   ./dev.sh kernels              recompile kernels/*.c and refresh the committed .wasm files
# Each setup step is skipped when already done, so they are quick the second time.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '[dev] %s\n' "$*" >&2; }

# A CPython >= 3.11 (the package's minimum); pyenv installs are looked at too.
find_python() {
  local candidate
  # 3.12 first: it matches Pyodide's Python, which the build's .pyc compilation needs.
  for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python python3.13 \
                   "$HOME"/.pyenv/versions/3.13*/bin/python python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  log "error: Python >= 3.11 is required (python3.12 recommended)"
  exit 1
}

setup_node() {
  local stamp
  command -v node >/dev/null || { log "error: Node.js >= 18 (node and npm) is required"; exit 1; }
  # npm ci again whenever package-lock.json changed (the Pyodide version is written in one
  # place, package.json's devDependencies.pyodide, which the lock follows; build.py reads it too).
  stamp="node_modules/.minimodel-$(sha256sum package-lock.json | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    command -v npm >/dev/null || { log "error: npm (Node.js >= 18) is required"; exit 1; }
    log "installing the pinned npm packages (npm ci)"
    npm ci --no-audit --no-fund
    touch "$stamp"
  fi
}

setup_venv() {  # $1: the requirements file (build: numpy and scikit-learn; dev: everything)
  local python stamp requirements="$1"
  if [ ! -x .venv/bin/python ]; then
    python=$(find_python)
    log "creating .venv with $python"
    "$python" -m venv .venv
  fi
  stamp=".venv/.requirements-$(cat "$requirements" requirements-build.txt | sha256sum | cut -c1-16)-$requirements"
  if [ ! -e "$stamp" ]; then
    log "installing $requirements into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

setup_browser() {
  # Debian's Chromium, which Playwright drives (never `playwright install`, which downloads
  # a browser): the build takes the site's interpreter snapshot in it, the tests run in it.
  [ -x /usr/bin/chromium ] || apt_install chromium
}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing $* with apt-get"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@"
}

setup_test_tools() {
  # Chromium, and clang + lld (14 and 19), with which the build compiles the WebAssembly kernels.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v clang >/dev/null || missing+=(clang)
  command -v wasm-ld >/dev/null || missing+=(lld)
  command -v clang-19 >/dev/null || missing+=(clang-19)   # the relaxed-SIMD kernels
  command -v wasm-ld-19 >/dev/null || missing+=(lld-19)
  command -v cc >/dev/null || missing+=(gcc)
  [ ${#missing[@]} -eq 0 ] && return
  apt_install "${missing[@]}"
}

command="${1:-}"
shift || true
case "$command" in
  build)
    setup_node
    setup_venv requirements-build.txt
    setup_browser
    exec .venv/bin/python build.py
    ;;
  kernels)
    setup_venv requirements-build.txt
    setup_test_tools
    exec .venv/bin/python build.py kernels
    ;;
  serve)
    setup_node
    setup_venv requirements-build.txt
    setup_browser
    exec .venv/bin/python build.py serve "$@"
    ;;
  test)
    setup_node
    setup_venv requirements-dev.txt
    setup_test_tools
    .venv/bin/python build.py
    # Two processes, each taking whole test files (a file's tests share one booted page);
    # pass -n 0 to run in one process (for --pdb, say).
    exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
    ;;
  bench)
    setup_node
    setup_venv requirements-dev.txt
    setup_test_tools
    exec .venv/bin/python bench/run.py "$@"
    ;;
  *)
    echo "usage: ./dev.sh serve [--port N] | ./dev.sh test [pytest args] | ./dev.sh build | ./dev.sh bench [--quick] | ./dev.sh kernels" >&2
    exit 2
    ;;
esac
