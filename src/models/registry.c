/* The families loam knows. Adding one: write its family file (config reader
 * + tensor names) and list it here. */
#include "family.h"

extern const loam_family loam_family_llama;

const loam_family *const loam_families[] = {
    &loam_family_llama,
    NULL,
};
