/* Chat templates: the fixtures' chat_cases rendered and tokenized as the
 * reference, the Jinja features real templates use, and clear errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "test.h"

/* chat_cases.jsonl: rendered text and its ids (encoded without special
 * tokens), or the template's own error. */
static void check_chat_cases(const char *name) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s", fixture(name));
    snprintf(path, sizeof path, "%s/chat_cases.jsonl", dir);
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(dir, &tok, &err), &err);
    char *text = NULL;
    if (loam_read_file(path, 1 << 24, &text, NULL, &err) != LOAM_OK) {
        loam_tokenizer_free(tok);
        CHECK(0, "%s", err.message);
    }
    int n = 0, bad = 0;
    char first[900] = "";
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        n++;
        char *messages = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "messages"));
        const cJSON *tools_j = cJSON_GetObjectItem(c, "tools"), *kw = cJSON_GetObjectItem(c, "kwargs");
        char *tools = tools_j ? cJSON_PrintUnformatted(tools_j) : NULL, *vars = kw ? cJSON_PrintUnformatted(kw) : NULL;
        const cJSON *want = cJSON_GetObjectItem(c, "rendered"), *want_err = cJSON_GetObjectItem(c, "error");
        const cJSON *want_ids = cJSON_GetObjectItem(c, "ids");
        char *out = NULL;
        loam_status st = loam_chat_apply_template(tok, NULL, messages, tools, vars, cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")),
                                                  &out, &err);
        int ok;
        if (cJSON_IsString(want_err)) {
            ok = st != LOAM_OK && strstr(err.message, want_err->valuestring) != NULL;
            if (!ok && !bad) snprintf(first, sizeof first, "expected error \"%.200s\", got %.600s", want_err->valuestring, st ? err.message : "success");
        } else {
            ok = st == LOAM_OK && cJSON_IsString(want) && strcmp(out, want->valuestring) == 0;
            if (!ok && !bad) snprintf(first, sizeof first, "rendered %.300s\n    want %.300s", st ? err.message : out, cJSON_IsString(want) ? want->valuestring : "?");
            if (ok && cJSON_IsArray(want_ids)) {
                int32_t *ids = NULL;
                int n_ids = 0;
                ok = loam_tokenize(tok, out, strlen(out), 0, &ids, &n_ids, &err) == LOAM_OK && n_ids == cJSON_GetArraySize(want_ids);
                for (int i = 0; ok && i < n_ids; i++) ok = ids[i] == (int32_t)cJSON_GetArrayItem(want_ids, i)->valuedouble;
                if (!ok && !bad) snprintf(first, sizeof first, "ids of the rendered prompt differ");
                free(ids);
            }
        }
        bad += !ok;
        free(out), free(messages), free(tools), free(vars);
        cJSON_Delete(c);
    }
    free(text);
    loam_tokenizer_free(tok);
    CHECK(n > 0, "no chat cases");
    CHECK(bad == 0, "%s: %d/%d chat cases differ; first: %s", name, bad, n, first);
}

static void test_chat_llama31(void) { check_chat_cases("tokenizers/llama31"); }
static void test_chat_gemma(void) { check_chat_cases("tokenizers/gemma"); }

static void test_bad_templates(void) {
    const char *cases[][2] = {
        {"{% include 'x.jinja' %}", "unsupported template tag \"include\""},
        {"{{ messages | frobnicate }}", "unsupported filter \"frobnicate\""},
        {"{% if true %}unclosed", "missing \"elif\""},
        {"{{ 'abc }}", "unterminated"},
        {"{{ raise_exception('Custom failure') }}", "Custom failure"},
        {"{{ messages is weird }}", "unsupported test \"weird\""},
        {"{% for m in messages %}{% endif %}", "unexpected \"endif\""},
        {"{{ 1 + 'a' }}", "unsupported operand types"},
        {"{{ 9223372036854775807 + 1 }}", "integer overflow"},
        {"{{ 2 ** 64 }}", "integer overflow"},
        {"{{ 7.7e77 | int }}", "does not fit an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        loam_error err = {0};
        loam_status st = loam_chat_apply_template(NULL, cases[i][0], "[{\"role\": \"user\", \"content\": \"hi\"}]", NULL, NULL, 1, &out, &err);
        free(out);
        CHECK(st == LOAM_E_FORMAT && strstr(err.message, cases[i][1]), "template %zu: expected \"%s\", got: %s", i, cases[i][1],
              st ? err.message : "success");
    }
}

/* The Jinja features real templates use, each checked on its own. */
static void test_jinja_features(void) {
    const char *cases[][2] = {
        {"{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "2"},
        {"{% for m in messages %}{{ loop.index0 }}{{ m.role[0] }}{% if not loop.last %},{% endif %}{% endfor %}", "0u,1a"},
        {"{{ messages | map(attribute='role') | join('|') }}", "user|assistant"},
        {"{{ messages | selectattr('role', 'equalto', 'user') | list | length }}", "1"},
        {"{{ '  x  ' | trim }}|{{ 'Hello'[1:3] }}|{{ [1,2,3][::-1] }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 2 ** 10 }}", "x|el|[3, 2, 1]|3|-4|1024"},
        {"{{ {'b': 1, 'a': [true, none, 1.5]} | tojson }}", "{\"b\": 1, \"a\": [true, null, 1.5]}"},
        {"{{ {'a': [1]} | tojson(indent=2) }}", "{\n  \"a\": [\n    1\n  ]\n}"},
        {"{%- for m in messages -%}\n  {{ m.content | upper }}\n{%- endfor %}", "HIYO"},
        {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}", "Hi Ann! Hi Bo?"},
        {"{% if x is not defined and y is none %}a{% elif z %}b{% else %}c{% endif %}", "a"},
        {"{% if x is defined %}a{% elif z %}b{% else %}c{% endif %}{% if z is false %}f{% endif %}", "cf"},
        {"{{ 'yes' if 'us' in 'user' else 'no' }}{{ 'role' in messages[0] }}{{ messages[0].get('nope', 'd') }}", "yesTrued"},
        {"{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"},
        {"{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}", "02"},
        {"  {% if true %}\n  x\n  {% endif %}\n", "  x\n"},
        {"{{ 'a\\tb\\n' | tojson }}{{ \"it's\" }}", "\"a\\tb\\n\"it's"},
        {"{{ messages[0].content.startswith('h') }} {{ 'A,B'.split(',') }} {{ 'x'.upper() ~ 1 }}", "True ['A', 'B'] X1"},
    };
    const char *msgs = "[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        loam_error err = {0};
        loam_status st = loam_chat_apply_template(NULL, cases[i][0], msgs, NULL, "{\"y\": null, \"z\": false}", 0, &out, &err);
        int ok = st == LOAM_OK && strcmp(out, cases[i][1]) == 0;
        if (!ok) {
            char got[300];
            snprintf(got, sizeof got, "%.280s", st ? err.message : out);
            free(out);
            CHECK(0, "template %zu: got \"%s\", want \"%s\"", i, got, cases[i][1]);
        }
        free(out);
    }
}

/* Numbers keep Python's types and spelling: json.loads reads 3.0 and 1e2 as
 * floats, and tojson / printing give Python's repr (the expected strings
 * are what Python 3 prints for these values). */
static void test_float_numbers(void) {
    const char *msgs = "[{\"role\": \"user\", \"content\": \"hi\", \"n\": 3.0, \"k\": 3, \"e\": 1e2, "
                       "\"l\": [1.50, -2, 0.0, -0.0, 1e16, 1e-5, 0.0001, 123456789012345680.0, 2.5e-7, 1e22, 100.25, \"1.0\"]}]";
    static const char *cases[][2] = {
        {"{{ messages[0].n }} {{ messages[0].k }} {{ messages[0].e }}", "3.0 3 100.0"},
        {"{{ messages[0].l | tojson }}",
         "[1.5, -2, 0.0, -0.0, 1e+16, 1e-05, 0.0001, 1.2345678901234568e+17, 2.5e-07, 1e+22, 100.25, \"1.0\"]"},
        {"{{ messages[0].n + 1 }} {{ messages[0].k + 1 }} {{ messages[0].k / 2 }}", "4.0 4 1.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        loam_error err = {0};
        loam_status st = loam_chat_apply_template(NULL, cases[i][0], msgs, NULL, NULL, 0, &out, &err);
        int ok = st == LOAM_OK && strcmp(out, cases[i][1]) == 0;
        char got[400];
        snprintf(got, sizeof got, "%.380s", st ? err.message : out);
        free(out);
        CHECK(ok, "template %zu: got \"%s\", want \"%s\"", i, got, cases[i][1]);
    }
}

void register_chat_tests(void) {
    test_add("chat: JSON floats stay floats and print as Python prints them (3.0, 1e+16)", test_float_numbers);
    test_add("chat: llama31 template (system, tools, date_string) renders and tokenizes as the reference", test_chat_llama31);
    test_add("chat: gemma template (role checks, raise_exception)", test_chat_gemma);
    test_add("chat: unsupported or broken templates give clear errors", test_bad_templates);
    test_add("chat: Jinja features used by real templates", test_jinja_features);
}
