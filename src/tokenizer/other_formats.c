/* Tokenizers published without tokenizer.json. Formats not implemented yet
 * give a clear error. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "tokenizer/tokenizer.h"

void tk_find_tiktoken(const char *dir, char **path) {
    *path = NULL;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while (!*path && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 9 && strcmp(e->d_name + n - 9, ".tiktoken") == 0) *path = loam_path_join(dir, e->d_name);
    }
    closedir(d);
}






