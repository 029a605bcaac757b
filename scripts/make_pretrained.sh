#!/usr/bin/env bash
# Maintainer script: train the pretrained models shipped in registry/ on synthetic maps.
#
#   bash scripts/make_pretrained.sh WORK_DIR [EPOCHS]
#
# Everything goes through the public commands (synth -> prepare -> train -> evaluate), so the
# released models are exactly what a user would get by running them. The paper's maps are not
# public: training and test maps are the project's synthetic dual-phase maps (presets t1, t2,
# t3, complex). Test maps use seeds never used for training.
#
# Deviations from the paper, forced by a 2-core CPU budget (minutes, not the paper's ~6 h per
# model), and recorded in each model card: a 5-step U-Net (two pooling levels, 32 filters at
# the top) instead of 7 steps, 96 x 96 crops instead of 224, Adam instead of Adadelta.
set -euo pipefail
work=${1:?usage: make_pretrained.sh WORK_DIR [EPOCHS]}
epochs=${2:-10}
export KERAS_BACKEND=${KERAS_BACKEND:-torch}   # trains ~1.5x faster than jax on CPU
mkdir -p "$work"

if [ ! -d "$work/train" ]; then
  i=0
  for preset in t1 t2 t3 complex; do
    ebsdphase synth "$work/train" --preset "$preset" --count 2 --seed $((1000 + 10 * i)) --size 428x568
    i=$((i + 1))
  done
fi
if [ ! -d "$work/test" ]; then
  i=0
  for preset in t1 t2 t3 complex; do
    ebsdphase synth "$work/test" --preset "$preset" --count 1 --seed $((5000 + 10 * i)) --size 856x1136
    i=$((i + 1))
  done
fi

for channels in ${MODELS:-bs+kam bs kam quat}; do
  name="synth-${channels/+/-}"
  if [ ! -f "$work/ds-$name.h5" ]; then
    ebsdphase prepare "$work"/train/*.ctf --channels "${channels/+/,}" --crop 96 --val 0.25 \
      --split-by map -o "$work/ds-$name.h5"
  fi
  if [ ! -f "$work/run-$name/$name.json" ]; then
    ebsdphase train "$work/ds-$name.h5" -o "$work/run-$name" --name "$name" -p depth=5 \
      --optimizer adam --epochs "$epochs" --patience 4 --batch 8 --quiet
  fi
  ebsdphase evaluate --model "$work/run-$name" "$work"/test/*.ctf -o "$work/eval-$name" \
    --group-by '^synth_([a-z0-9]+)_' | tail -n 30
done
