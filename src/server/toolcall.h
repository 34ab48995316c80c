/* Tool calls read back from a model's reply (toolcall.c lists the shapes). */
#ifndef LOAM_SERVER_TOOLCALL_H
#define LOAM_SERVER_TOOLCALL_H
#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct {
    cJSON *calls;  /* [{"name", "arguments": object or string}] */
    char *content; /* the text outside the calls, trimmed; NULL when none */
} srv_tool_reply;

/* 1 and the calls when the reply holds calls of the request's `tools`
 * (OpenAI's list of {"type": "function", "function": {"name", ...}});
 * 0 and nothing to free otherwise. */
int srv_parse_tool_calls(const char *text, const cJSON *tools, srv_tool_reply *out);
void srv_tool_reply_free(srv_tool_reply *r);
/* While streaming with tools: how many leading bytes of the text so far
 * can go out as content (what follows may still turn out to be a call).
 * The search for a tag starts at `from`, the bytes already found sendable
 * (so a long streamed reply is scanned once, not once per token). */
size_t srv_tool_sendable(const char *text, size_t len, size_t from);
/* The calls as OpenAI's tool_calls (ids "call_<id_prefix>_<i>", arguments
 * a JSON string; `with_index` for stream deltas) or ollama's (arguments an
 * object). */
cJSON *srv_tool_calls_json(const srv_tool_reply *r, const char *id_prefix, int openai, int with_index);

#endif
