/* Audio files into Whisper's input: 16 kHz mono float samples. */
#ifndef LOAM_SPEECH_AUDIO_H
#define LOAM_SPEECH_AUDIO_H
#include <stddef.h>

#include "loam.h"

/* Decodes `data` (any format libsndfile reads: WAV, FLAC, OGG/Vorbis,
 * Opus, MP3, …), downmixes to mono (the mean of the channels) and
 * resamples to 16 kHz with soxr. At most max_seconds of audio are kept
 * (0: no limit); longer input is an error, found while reading, so a
 * header that claims hours costs nothing. `name` names the input in
 * errors. *samples is malloc'ed. */
loam_status speech_audio_decode(const void *data, size_t size, const char *name, double max_seconds, float **samples,
                                size_t *n, loam_error *err);

#endif
