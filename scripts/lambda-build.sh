#!/usr/bin/env bash
# Builds the Lambda functions with cargo-lambda into target/lambda/NAME/bootstrap, where each
# function's CodeUri in infra/template.yaml points; then `sam deploy --guided` (from infra/)
# zips and uploads them.
#
#   scripts/lambda-build.sh              # arm64 (Graviton), the template's architecture
#   scripts/lambda-build.sh --x86-64     # the build machine's own architecture (local runs)
#
# Uses the `lambda` profile of Cargo.toml (optimised for size). cargo-lambda (PyPI, with zig as
# the cross-linker) is installed into the project's virtual environment when missing; the
# arm64 standard library comes from rustup.
#
# Environment:
#   CHENGGUO_VENV      Python virtual environment (default <repo>/.venv)
#   CARGO_TARGET_DIR   build folder (default ~/.cache/chengguo/target)
set -euo pipefail

CARGO_LAMBDA_VERSION=1.9.2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CHENGGUO_VENV:-$ROOT/.venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}

arch=--arm64
if [[ ${1:-} == --x86-64 ]]; then
    arch=--x86-64
    shift
fi

shown=""
if [[ -x $VENV/bin/cargo-lambda ]]; then
    shown=$("$VENV/bin/python" -m pip show cargo-lambda 2>/dev/null || true)
fi
if ! grep -qx "Version: $CARGO_LAMBDA_VERSION" <<<"$shown"; then
    echo "lambda-build: installing cargo-lambda==$CARGO_LAMBDA_VERSION into $VENV" >&2
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
if [[ $arch == --arm64 ]] && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi

cd "$ROOT"
PATH=$VENV/bin:$PATH "$VENV/bin/cargo-lambda" lambda build \
    --profile lambda "$arch" -p chengguo-lambda \
    --lambda-dir "$ROOT/target/lambda" "$@"
for d in "$ROOT"/target/lambda/*/; do
    printf '%-14s %s\n' "$(basename "$d")" "$(du -h "$d/bootstrap" | cut -f1)"
done
