/* loam serve's speech routes with a Whisper model (tiny-v3 as a hub folder):
 * /v1/audio/transcriptions and /translations equal `loam transcribe` with the
 * same settings, through curl's multipart (srt, word timestamps) and the
 * official openai npm package (json, a translation); the speech routes'
 * errors in OpenAI's shape. */
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "test.h"


/* `loam transcribe` at temperature 0.5 (one sampled pass, as the API does
 * for a temperature above 0; one candidate, loam's best_of extension, to
 * keep the test short), run once: its file of format ext */
static char *cli_output(const char *model, const char *ext) {
    static char dir[1100];
    char cmd[4096], *out = NULL, path[1200];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/cli", temp_dir());
        snprintf(cmd, sizeof cmd, "mkdir -p %s && %s transcribe %s %s -l en --temperature 0.5 --temperature-inc 0 --best-of 1 -q --output all --output-dir %s >/dev/null 2>&1",
                 dir, LOAM_BIN, model, fixture("audio/jfk.wav"), dir);
        int rc = run_capture(cmd, &out);
        free(out);
        if (rc != 0) return dir[0] = 0, NULL;
    }
    snprintf(path, sizeof path, "%s/jfk.%s", dir, ext);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf) fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    return buf;
}

static int post_audio(const test_server *s, const char *route, const char *fields, char **out) {
    char args[2048];
    snprintf(args, sizeof args, "-F file=@%s %s", fixture("audio/jfk.wav"), fields);
    return server_curl(s, args, route, out);
}

static void test_audio_routes(void) {
    const char *model = whisper_hub_copy();
    CHECK(model, "copy");
    char args[4096];
    test_server s;
    snprintf(args, sizeof args, "--model whisper=%s --model stories=%s --max-upload 600000 -t 2", model, fixture("llm/stories260k"));
    CHECK(server_start(&s, args), "no server");
    char *out = NULL;
    int st = server_curl(&s, "", "/v1/models", &out);
    int ok = st == 200 && strstr(out, "\"id\":\"whisper\"") && strstr(out, "\"id\":\"stories\"");
    free(out);
    if (!ok) server_stop(&s);
    CHECK(ok, "/v1/models lists both models");
    /* the format equals the CLI's file */
    const char *formats[][2] = {{"srt", "srt"}}; /* vtt, text: the same writer, tested with the CLI */
    for (int i = 0; i < 1; i++) {
        char fields[256];
        snprintf(fields, sizeof fields, "-F model=whisper -F language=en -F temperature=0.5 -F best_of=1 -F response_format=%s", formats[i][0]);
        st = post_audio(&s, "/v1/audio/transcriptions", fields, &out);
        char *want = cli_output(model, formats[i][1]);
        ok = st == 200 && want && out && !strcmp(out, want);
        if (!ok) server_stop(&s);
        CHECK(ok, "%s: status %d\nserver:\n%s\nloam transcribe:\n%s", formats[i][0], st, out ? out : "", want ? want : "(none)");
        printf("    response_format=%s: %zu bytes, equal to loam transcribe --output %s\n", formats[i][0], strlen(out), formats[i][1]);
        free(out), free(want);
    }
    /* word timestamps: verbose_json's top-level words */
    st = post_audio(&s, "/v1/audio/transcriptions",
                    "-F language=en -F temperature=0.5 -F best_of=1 -F response_format=verbose_json -F timestamp_granularities[]=word", &out);
    cJSON *vj = cJSON_Parse(out);
    const cJSON *w0 = cJSON_GetArrayItem(cJSON_GetObjectItem(vj, "words"), 0);
    ok = st == 200 && cJSON_IsString(cJSON_GetObjectItem(w0, "word")) && cJSON_IsNumber(cJSON_GetObjectItem(w0, "end"));
    cJSON_Delete(vj);
    if (!ok) server_stop(&s);
    CHECK(ok, "timestamp_granularities[]=word (%d): %.300s", st, out);
    free(out);
    /* errors */
    struct { const char *fields; const char *route; int status; const char *needle; } bad[] = {
        {"-F model=nope", "/v1/audio/transcriptions", 404, "model_not_found"},
        {"-F best_of=0", "/v1/audio/transcriptions", 400, "best_of"},
        {"-F response_format=mp3", "/v1/audio/transcriptions", 400, "response_format"},
        {"-F temperature=7", "/v1/audio/transcriptions", 400, "temperature"},
        {"-F language=xx", "/v1/audio/transcriptions", 400, "language"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = post_audio(&s, bad[i].route, bad[i].fields, &out);
        ok = st == bad[i].status && out && strstr(out, bad[i].needle) && strstr(out, "\"error\"");
        if (!ok) server_stop(&s);
        CHECK(ok, "%s: %d %s", bad[i].fields, st, out ? out : "");
        free(out);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/notes.txt", temp_dir());
    write_text(path, "not audio at all");
    snprintf(args, sizeof args, "-F file=@%s", path);
    st = server_curl(&s, args, "/v1/audio/transcriptions", &out);
    ok = st == 400 && strstr(out, "notes.txt");
    free(out);
    st = server_curl(&s, "-F model=whisper", "/v1/audio/transcriptions", &out);
    ok = ok && st == 400 && strstr(out, "\"file\"");
    free(out);
    st = server_curl(&s, "-H 'Content-Type: application/json' -d '{\"file\": 1}'", "/v1/audio/transcriptions", &out);
    ok = ok && st == 415;
    free(out);
    snprintf(args, sizeof args, "-F file=@%s", fixture("audio/jfk_44k1_stereo.wav")); /* 1.9 MB over --max-upload */
    st = server_curl(&s, args, "/v1/audio/transcriptions", &out);
    ok = ok && st == 413;
    free(out);
    st = server_curl(&s, "", "/health", &out);
    ok = ok && st == 200;
    free(out);
    if (!ok) server_stop(&s);
    CHECK(ok, "non-audio 400 naming the file, no file 400, JSON 415, over the limit 413, still serving");
    /* the official openai npm package: json and a translation (verbose_json), an unknown model */
    char node_args[1024];
    snprintf(node_args, sizeof node_args, "openai_audio.mjs http://127.0.0.1:%d/v1 %s", s.port, fixture("audio/jfk.wav"));
    int rc = npm_run(node_args, &out);
    server_stop(&s);
    cJSON *j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    CHECK(j, "the openai client failed (%d; npm log in %s): %s", rc, NPM_DIR, out ? out : "");
    char *want = cli_output(model, "json");
    cJSON *w = cJSON_Parse(want);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text")), *wtext = cJSON_GetStringValue(cJSON_GetObjectItem(w, "text"));
    const cJSON *t = cJSON_GetObjectItem(j, "translation"), *e = cJSON_GetObjectItem(j, "error");
    ok = text && wtext && !strcmp(text, wtext + (wtext[0] == ' ')) &&
         !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "text")), "string") &&
         !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "task")), "translate") &&
         cJSON_GetNumberValue(cJSON_GetObjectItem(t, "segments")) > 0 &&
         cJSON_GetNumberValue(cJSON_GetObjectItem(e, "status")) == 404;
    cJSON_Delete(j), cJSON_Delete(w), free(want);
    CHECK(ok, "openai audio client (its text must equal loam transcribe's json text): %s", out);
    free(out);
}

void register_server_audio_tests(void) {
    test_add("serve: /v1/audio/transcriptions (srt; json and translations through the openai npm package) equal "
             "loam transcribe; the speech routes' errors", test_audio_routes);
}
