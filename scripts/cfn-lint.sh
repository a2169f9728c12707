#!/usr/bin/env bash
# Lints infra/template.yaml with cfn-lint (AWS's CloudFormation linter, which expands the SAM
# transform first), installed into the project's Python virtual environment when missing.
#
#   scripts/cfn-lint.sh [TEMPLATE...]   # default infra/template.yaml; exit status is cfn-lint's
#
# Environment:
#   CHENGGUO_VENV   Python virtual environment (default <repo>/.venv, shared with ministack)
set -euo pipefail

CFN_LINT_VERSION=1.58.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CHENGGUO_VENV:-$ROOT/.venv}

shown=""
if [[ -x $VENV/bin/cfn-lint ]]; then
    shown=$("$VENV/bin/python" -m pip show cfn-lint 2>/dev/null || true)
fi
if ! grep -qx "Version: $CFN_LINT_VERSION" <<<"$shown"; then
    echo "cfn-lint: installing cfn-lint==$CFN_LINT_VERSION into $VENV" >&2
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi

if [[ $# -eq 0 ]]; then
    set -- "$ROOT/infra/template.yaml"
fi
# Regions of the global partition near Zhongshan and the default one. (The mainland China
# regions have no CloudFront origin access control nor CloudFront Functions: see the README.)
"$VENV/bin/cfn-lint" --regions ap-east-1 ap-southeast-1 us-east-1 -- "$@"
echo "cfn-lint: $* passed" >&2
