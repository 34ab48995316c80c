/* The families loam knows. Adding one: write its family file (config reader
 * + tensor names) and list it here. */
#include "text/family.h"

extern const loam_family loam_family_llama, loam_family_bloom, loam_family_mpt, loam_family_falcon,
    loam_family_phi, loam_family_gemma;

const loam_family *const loam_families[] = {
    &loam_family_llama, &loam_family_bloom, &loam_family_mpt, &loam_family_falcon,
    &loam_family_phi,   &loam_family_gemma, NULL,
};
