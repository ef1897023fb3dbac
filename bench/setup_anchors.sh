#!/usr/bin/env bash
# Builds bench/.venv-anchors: the AutoML anchors (AutoGluon, FLAML) that benchmarks compare poc2prod
# against. They live in their own environment and are never dependencies of poc2prod.
# torch is pinned to the CPU build kept on these machines; another version would pull several GB.
set -euo pipefail
cd "$(dirname "$0")"
venv=.venv-anchors
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import flaml.automl, autogluon.tabular" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "torch==2.13.0"
"$venv/bin/pip" install --quiet "autogluon.tabular[all]==1.6.3" "flaml[automl]==2.8.0" pyarrow "torch==2.13.0"
"$venv/bin/python" -c "import torch, autogluon.tabular, flaml; print('anchors ready: torch', torch.__version__)"
