// The official openai package's audio API against loam serve:
// node openai_audio.mjs BASE_URL AUDIO_FILE — prints one JSON object.
import fs from "node:fs";
import OpenAI from "openai";

const [baseURL, audio] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });
const out = {};
const t = await client.audio.transcriptions.create({
  file: fs.createReadStream(audio), model: "whisper-1", language: "en", temperature: 0.5,
  best_of: 1, // loam's extension (one candidate keeps the test short); the package passes it through
});
out.text = t.text;
const tr = await client.audio.translations.create({
  file: fs.createReadStream(audio), model: "whisper-1", temperature: 0.5, response_format: "verbose_json", best_of: 1,
});
out.translation = { text: typeof tr.text, task: tr.task, segments: tr.segments.length };
try {
  await client.audio.transcriptions.create({ file: fs.createReadStream(audio), model: "no-such-model" });
  out.error = "no error";
} catch (e) {
  out.error = { status: e.status, code: e.code, param: e.param };
}
console.log(JSON.stringify(out));
