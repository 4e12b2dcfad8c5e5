/* Where the CLI keeps its feature cache and training copies (cli_data.h):
 * the platform's cache directory, never the working directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_data.h"

int tt_cli_cache_resolve(const char *arg, tt_cli_cache *c) {
    memset(c, 0, sizeof *c);
    if (arg && !strcmp(arg, "none")) return 0;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (arg) n = snprintf(c->root, sizeof c->root, "%s", arg);
    /* The XDG base directory spec: a relative XDG_CACHE_HOME is to be ignored. */
    else if (xdg && xdg[0] == '/') n = snprintf(c->root, sizeof c->root, "%s/tabtrain", xdg);
    else if (home && home[0]) n = snprintf(c->root, sizeof c->root, "%s/.cache/tabtrain", home);
    else return 0; /* nowhere to keep it: features are computed each run */
    if (n <= 0 || (size_t)n >= sizeof c->root) return -1;
    snprintf(c->features, sizeof c->features, "%s/features", c->root);
    snprintf(c->copies, sizeof c->copies, "%s/copies", c->root);
    c->on = 1;
    return 0;
}

void tt_cli_cache_apply(const tt_cli_cache *c, tt_featcache_config *cfg) {
    cfg->dir = c->on ? c->features : NULL;
    cfg->copies = c->on ? c->copies : NULL;
}

void tt_cli_cache_app(const tt_cli_cache *c, tt_app_config *cfg) {
    cfg->cache_dir = c->on ? c->features : NULL;
    cfg->copies_dir = c->on ? c->copies : NULL;
}
