// Drives the npm `replicate` client against nb2's emulator and prints one JSON summary line.
// Run by tests/test_emulator_npm.py, which sets:
//   NB2_EMU_API    the emulator's API base with /v1 (the npm client's baseUrl includes it)
//   NB2_EMU_IMAGE  a small PNG on disk, sent as a Buffer (the client uploads it: Files API)
//   REPLICATE_API_TOKEN, and NODE_EXTRA_CA_CERTS when outputs are served over https.
import { readFile } from "node:fs/promises";
import Replicate from "replicate";

const MODEL = "google/nano-banana-2";
const replicate = new Replicate({ baseUrl: process.env.NB2_EMU_API });

// What one run() output is, and whether its bytes are an image we can fetch.
async function describe(output) {
  const isFileOutput =
    output instanceof ReadableStream && typeof output.url === "function";
  let url;
  let bytes;
  if (isFileOutput) {
    url = output.url().href;
    bytes = new Uint8Array(await (await output.blob()).arrayBuffer());
  } else {
    url = output;
    const r = await fetch(output);
    bytes = new Uint8Array(await r.arrayBuffer());
  }
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  return { kind: isFileOutput ? "FileOutput" : typeof output, url, size: bytes.length, jpeg };
}

const summary = {};

// 1. run(): a sync create, then (if needed) polling; the output as the client hands it over
const runIds = [];
const image = await readFile(process.env.NB2_EMU_IMAGE);
const out = await replicate.run(
  MODEL,
  { input: { prompt: "a lighthouse", image_input: [image] } },
  (p) => runIds.push(p.id)
);
summary.run = await describe(out);
summary.run.id = runIds[0];

// 2. predictions.create with wait: the hold, as the create answers it
const held = await replicate.predictions.create({
  model: MODEL,
  input: { prompt: "a held one" },
  wait: 5,
});
summary.created = {
  id: held.id,
  status: held.status,
  output: held.output,
  hasStartedAt: "started_at" in held,
  web: held.urls.web,
};
const got = await replicate.predictions.get(held.id);
summary.created.after = got.status;

// 3. predictions.cancel on a slow one
const slow = await replicate.predictions.create({
  model: MODEL,
  input: { prompt: "a slow one [slow]" },
});
const canceled = await replicate.predictions.cancel(slow.id);
summary.cancel = { id: slow.id, createdAs: slow.status, status: canceled.status };

// 4. the Files API
const file = await replicate.files.create(image, { purpose: "check" });
const fetched = await replicate.files.get(file.id);
const deleted = await replicate.files.delete(file.id);
summary.file = {
  id: file.id,
  size: file.size,
  metadata: file.metadata,
  getIsJson: fetched.id === file.id && fetched.checksums.sha256 === file.checksums.sha256,
  deleted,
};

// 5. a fan-out of eight runs at once
const fanIds = [];
const outs = await Promise.all(
  Array.from({ length: 8 }, (_, i) =>
    replicate.run(MODEL, { input: { prompt: `fan ${i}` } }, (p) => {
      if (!fanIds.includes(p.id)) fanIds.push(p.id);
    })
  )
);
summary.fan = { ids: fanIds, outputs: await Promise.all(outs.map(describe)) };

console.log(JSON.stringify(summary));
