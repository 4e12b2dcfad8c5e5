# Sourced by the CLI test scripts (common.sh, crash_test.sh): the settings these tests
# were written for, from before the recommended settings (hidden layer, dropout, label
# smoothing, augmented copies, early stopping, a fine-tuned block, 30 epochs) became the
# defaults of every front end (src/app/config.c). Each train command starts with them,
# and a test's own flags after them change what it needs, so the defaults can change
# again without changing what a test runs.
PLAIN=(--epochs 10 --hidden 0 --dropout 0 --label-smoothing 0 --patience 0 --augment none --unfreeze 0)
