#!/usr/bin/env bash
# Builds the AutoML anchors that bench/prove_vs_automl.py compares poc2prod against, each in its own
# virtualenv beside this script and never a dependency of poc2prod:
#   .venv-flaml      flaml[automl], whose extra pins xgboost<3;
#   .venv-autogluon  autogluon.tabular[all] on torch 2.13.0 (CPU): its XGBoost model needs xgboost 3.x
#                    with scikit-learn 1.9, so the two anchors cannot share one venv.
# anchors-NAME.lock (a `pip freeze` of the venv the published figures came from) constrains every
# package, so a rebuild gives that same environment; a venv built without its lock writes one.
# torch must stay the CPU build cached on these machines (any other version pulls several GB): it is
# installed first, pinned again with the rest, and checked afterwards.
# Idempotent: a venv that passes its check is left alone; delete it to rebuild it.
#
#   bash bench/setup_anchors.sh
set -euo pipefail
cd "$(dirname "$0")"

python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  { echo "python3 must be Python 3.11 (the cached torch wheel is cp311)" >&2; exit 1; }

FLAML_CHECK="import flaml.automl, pyarrow, xgboost
assert int(xgboost.__version__.split('.')[0]) < 3, 'xgboost ' + xgboost.__version__"
AUTOGLUON_CHECK="import autogluon.tabular, catboost, fastai, lightgbm, pyarrow, torch, xgboost
assert torch.__version__.startswith('2.13.0'), 'torch ' + torch.__version__
assert int(xgboost.__version__.split('.')[0]) >= 3, 'xgboost ' + xgboost.__version__"

ready() {  # name, check
  [ -x ".venv-$1/bin/python" ] && ".venv-$1/bin/python" -c "$2" 2>/dev/null
}

fresh() {  # name: an empty venv with a current pip
  rm -rf ".venv-$1"
  python3 -m venv ".venv-$1"
  ".venv-$1/bin/python" -m pip install --quiet --upgrade pip
}

add() {  # name, requirements...: installed within the lock when there is one
  local name=$1 lock=()
  shift
  [ -f "anchors-$name.lock" ] && lock=(-c "anchors-$name.lock")
  ".venv-$name/bin/python" -m pip install --quiet "${lock[@]}" "$@"
}

seal() {  # name, check: fail loudly if the venv is not what the benchmark needs, then lock it
  ".venv-$1/bin/python" -c "$2"
  [ -f "anchors-$1.lock" ] || ".venv-$1/bin/python" -m pip freeze >"anchors-$1.lock"
  echo ".venv-$1 built"
}

if ready flaml "$FLAML_CHECK"; then
  echo ".venv-flaml ready"
else
  fresh flaml
  add flaml "flaml[automl]==2.8.0" pyarrow
  seal flaml "$FLAML_CHECK"
fi

if ready autogluon "$AUTOGLUON_CHECK"; then
  echo ".venv-autogluon ready"
else
  fresh autogluon
  add autogluon "torch==2.13.0"
  add autogluon "torch==2.13.0" "autogluon.tabular[all]==1.6.3" pyarrow
  seal autogluon "$AUTOGLUON_CHECK"
fi
