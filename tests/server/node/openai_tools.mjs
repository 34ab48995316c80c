// Tool calls through the official openai package: node openai_tools.mjs BASE_URL MODEL
// The package's own stream helper assembles the streamed tool-call deltas
// into a message (as applications do). Prints one JSON object.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });
const tools = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
  { type: "function", function: { name: "get_time", parameters: { type: "object" } } },
];
const out = {};

const whole = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Weather in Paris?<|a|>" }], tools, temperature: 0,
});
out.whole = { message: whole.choices[0].message, finish_reason: whole.choices[0].finish_reason };

const runner = client.chat.completions.stream({
  model, messages: [{ role: "user", content: "What time is it?<|b|>" }], tools, temperature: 0,
});
const final = await runner.finalChatCompletion();
out.streamed = { message: final.choices[0].message, finish_reason: final.choices[0].finish_reason };

console.log(JSON.stringify(out));
