#!/usr/bin/env bash
# Builds the AutoML anchors that benchmarks compare poc2prod against, each in its own virtualenv
# (never dependencies of poc2prod): FLAML needs xgboost<3, AutoGluon's XGBoost model needs 3.x, so
# they cannot share one. torch is pinned to the CPU build kept on these machines (any other version
# pulls several GB).
set -euo pipefail
cd "$(dirname "$0")"

make_venv() {  # name, import check, packages...
  local venv=".venv-$1" check=$2
  shift 2
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    return
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "$@"
  "$venv/bin/python" -c "$check"
}

make_venv flaml "import flaml.automl" "flaml[automl]==2.8.0" pyarrow
make_venv autogluon "import autogluon.tabular, xgboost, torch; assert xgboost.__version__ >= '3'" \
  "torch==2.13.0" "autogluon.tabular[all]==1.6.3" pyarrow
echo "anchors ready"
