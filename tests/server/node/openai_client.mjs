// The official openai package against loam serve: node openai_client.mjs BASE_URL MODEL
// Prints one JSON object with what each call returned; the C test checks it.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });
const out = {};

const chat = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 20, temperature: 0,
});
out.chat = chat.choices[0].message.content;
out.chat_usage = chat.usage;

const stream = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 20, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
out.stream = "";
for await (const chunk of stream) {
  if (chunk.choices.length && chunk.choices[0].delta.content) out.stream += chunk.choices[0].delta.content;
  if (chunk.usage) out.stream_usage = chunk.usage;
}

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 20, temperature: 0 });
out.completion = completion.choices[0].text;

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const emb = await client.embeddings.create({ model, input: ["Once upon a time", "hello"] });
out.embeddings = emb.data.map((d) => d.embedding.length);
out.embedding_norm = Math.sqrt(emb.data[0].embedding.reduce((a, x) => a + x * x, 0));

try {
  await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] });
  out.error = "no error";
} catch (e) {
  out.error = { status: e.status, type: e.type, code: e.code, param: e.param };
}
console.log(JSON.stringify(out));
