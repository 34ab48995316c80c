// The official openai package's images API against loam serve:
// node openai_images.mjs BASE_URL — prints one JSON object.
import OpenAI from "openai";

const [baseURL] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });
const out = {};
const r = await client.images.generate({
  model: "flux", prompt: "a lighthouse at dusk", n: 2, size: "64x64", response_format: "b64_json",
  seed: 5, steps: 2, // loam's extensions; the package passes them through
});
out.images = r.data.map((d) => {
  const png = Buffer.from(d.b64_json, "base64");
  return { signature: png.subarray(1, 4).toString(), width: png.readUInt32BE(16), height: png.readUInt32BE(20), seed: d.seed };
});
try {
  await client.images.generate({ model: "no-such-model", prompt: "x", response_format: "b64_json" });
  out.error = "no error";
} catch (e) {
  out.error = { status: e.status, code: e.code, param: e.param };
}
console.log(JSON.stringify(out));
