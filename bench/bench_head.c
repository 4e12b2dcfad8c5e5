/* head_train: the transfer-learning step of ../shared/peers/head_train.mjs —
 * a 1280 → 5 linear softmax head trained with Adam on N synthetic features —
 * timed through the real trainer (shuffle, gather, forward, loss, backward,
 * update per step). Prints one JSON line in the peers' shape.
 *   tabtrain-bench head [--n 1000] [--epochs 10] [--batch 32] [--lr 1e-3]
 *                       [--repeats 3] [--seed 1]
 * total_ms is the first run; warm_total_ms the median of the others, each on
 * a freshly initialised head. argv follows main(): argv[0] is the
 * benchmark's name, options start at argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tabtrain/trainer.h"

int tt_bench_head(int argc, char **argv) {
    int n = 1000, epochs = 10, batch = 32, repeats = 3, dim = 1280, classes = 5;
    double lr = 1e-3;
    unsigned long long seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--n"))
            n = atoi(v);
        else if (!strcmp(k, "--epochs"))
            epochs = atoi(v);
        else if (!strcmp(k, "--batch"))
            batch = atoi(v);
        else if (!strcmp(k, "--lr"))
            lr = atof(v);
        else if (!strcmp(k, "--repeats"))
            repeats = atoi(v);
        else if (!strcmp(k, "--seed"))
            seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr,
                    "head: unknown option %s (--n --epochs --batch --lr --repeats --seed)\n", k);
            return 2;
        }
    }
    if (n < 1 || repeats < 1) {
        fprintf(stderr, "head: --n and --repeats must be >= 1\n");
        return 2;
    }
    float *x = malloc((size_t)n * dim * sizeof(float)),
          *probs = malloc((size_t)n * classes * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    double *ms = malloc((size_t)repeats * sizeof(double));
    if (!x || !probs || !y || !ms) {
        fprintf(stderr, "head: out of memory\n");
        return 1;
    }
    tt_synthetic_features(n, dim, classes, 0.75f, seed, x, y);
    tt_trainer_config cfg = tt_trainer_defaults();
    cfg.epochs = epochs, cfg.batch_size = batch, cfg.lr = (float)lr, cfg.seed = seed;
    cfg.hidden = 0, cfg.dropout = 0.0f, cfg.label_smoothing = 0.0f, cfg.patience = 0; /* a linear head, as the peers' */
    tt_features train = {x, y, n};
    double acc = 0.0, loss = 0.0;
    int rc = 0;
    for (int r = 0; r < repeats && !rc; r++) {
        tt_trainer *t;
        tt_status st = tt_trainer_init(&t, &cfg, dim, classes, &train, NULL);
        if (st) {
            fprintf(stderr, "head: %s: %s\n", tt_status_name(st), tt_last_error());
            rc = 1;
            break;
        }
        double t0 = tt_bench_now_ms();
        while (!tt_trainer_finished(t) && !st) st = tt_trainer_run_epoch(t);
        ms[r] = tt_bench_now_ms() - t0;
        if (st) {
            fprintf(stderr, "head: %s: %s\n", tt_status_name(st), tt_last_error());
            rc = 1;
        }
        if (r == 0 && !rc) {
            tt_head_predict(tt_trainer_head(t), n, x, probs);
            int right = 0;
            for (int i = 0; i < n; i++)
                right += tt_argmax(probs + (size_t)i * classes, classes) == y[i];
            acc = (double)right / n;
            int ne;
            loss = tt_trainer_history(t, &ne)[ne - 1].train_loss;
        }
        tt_trainer_free(t);
    }
    if (!rc) {
        long steps = (long)epochs * ((n + batch - 1) / batch);
        double warm = ms[0];
        if (repeats > 1) {
            warm = tt_bench_median(ms + 1, repeats - 1);
        }
        printf("{\"bench\":\"head_train\",\"engine\":\"%s\",\"n\":%d,\"dim\":%d,\"classes\":%d,"
               "\"epochs\":%d,\"batch\":%d,\"lr\":%g,\"steps\":%ld,\"total_ms\":%.2f,"
               "\"warm_total_ms\":%.2f,\"warm_ms_per_epoch\":%.2f,\"ms_per_step\":%.4f,"
               "\"warm_ms_per_step\":%.4f,"
               "\"final_train_acc\":%.4f,\"final_loss\":%.4g,\"repeats\":%d,\"where\":\"%s\"}\n",
               TT_ENGINE_NAME, n, dim, classes, epochs, batch, lr, steps, ms[0], warm,
               warm / epochs, ms[0] / steps, warm / steps, acc, loss, repeats, TT_BENCH_WHERE);
    }
    free(x), free(probs), free(y), free(ms);
    return rc;
}
