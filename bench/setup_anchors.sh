#!/usr/bin/env bash
# Builds the anchors that the benchmarks compare poc2prod against, each in its own virtualenv beside
# this script and never a dependency of poc2prod. The AutoML anchors of bench/prove_vs_automl.py:
#   .venv-flaml      flaml[automl], whose extra pins xgboost<3;
#   .venv-autogluon  autogluon.tabular[all] on torch 2.13.0 (CPU): its XGBoost model needs xgboost 3.x
#                    with scikit-learn 1.9, so the two anchors cannot share one venv.
# The model-serving anchors of bench/serve_speed.py (started by bench/_serve_anchors.py), each with the
# lightgbm that poc2prod's own venv has, so every server predicts with the same booster code:
#   .venv-mlflow     mlflow 3.x, whose `mlflow models serve` puts a LightGBM model behind HTTP;
#   .venv-bentoml    bentoml 1.4.x, whose services batch concurrent requests adaptively.
# The monitoring anchor of bench/monitor_speed.py (which runs bench/_evidently_run.py in it):
#   .venv-evidently  evidently 0.7.x (the Report / DataDriftPreset API that 0.7 introduced), with
#                    pyarrow to read the Parquet frames it is given; pandas 2.x, as evidently 0.7.23
#                    does not import under pandas 3 (which its requirements do not exclude).
# anchors-NAME.lock (a `pip freeze` of the venv the published figures came from) constrains every
# package, so a rebuild gives that same environment; a venv built without its lock writes one.
# torch must stay the CPU build cached on these machines (any other version pulls several GB): it is
# installed first, pinned again with the rest, and checked afterwards.
# Idempotent: a venv that passes its check is left alone; delete it to rebuild it.
#
#   bash bench/setup_anchors.sh                  # all five
#   bash bench/setup_anchors.sh mlflow bentoml   # just those
set -euo pipefail
cd "$(dirname "$0")"

python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  { echo "python3 must be Python 3.11 (the cached torch wheel is cp311)" >&2; exit 1; }

FLAML_CHECK="import flaml.automl, pyarrow, xgboost
assert int(xgboost.__version__.split('.')[0]) < 3, 'xgboost ' + xgboost.__version__"
AUTOGLUON_CHECK="import autogluon.tabular, catboost, fastai, lightgbm, pyarrow, torch, xgboost
assert torch.__version__.startswith('2.13.0'), 'torch ' + torch.__version__
assert int(xgboost.__version__.split('.')[0]) >= 3, 'xgboost ' + xgboost.__version__"
MLFLOW_CHECK="import mlflow, lightgbm"
BENTOML_CHECK="import bentoml, lightgbm
assert bentoml.__version__.startswith('1.4'), 'bentoml ' + bentoml.__version__"
EVIDENTLY_CHECK="import evidently, pandas, pyarrow
assert evidently.__version__.startswith('0.7.'), 'evidently ' + evidently.__version__"
LIGHTGBM=lightgbm==4.7.0  # the version in poc2prod's own .venv

ALL=(flaml autogluon mlflow bentoml evidently)
WANTED=("${@:-${ALL[@]}}")
for name in "${WANTED[@]}"; do
  [[ " ${ALL[*]} " == *" $name "* ]] || { echo "unknown anchor '$name' (known: ${ALL[*]})" >&2; exit 2; }
done

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

build_flaml() {
  add flaml "flaml[automl]==2.8.0" pyarrow
}

build_autogluon() {
  add autogluon "torch==2.13.0"
  add autogluon "torch==2.13.0" "autogluon.tabular[all]==1.6.3" pyarrow
}

build_mlflow() {
  add mlflow "mlflow==3.17.2" "$LIGHTGBM" pandas
}

build_bentoml() {
  add bentoml "bentoml==1.4.40" "$LIGHTGBM" numpy
}

build_evidently() {
  add evidently "evidently==0.7.23" "pandas==2.3.3" pyarrow
}

for name in "${WANTED[@]}"; do
  check="${name^^}_CHECK"
  if ready "$name" "${!check}"; then
    echo ".venv-$name ready"
  else
    fresh "$name"
    "build_$name"
    seal "$name" "${!check}"
  fi
done
