// The peer for tests/test_tfjs_peer.py: the real TF.js library runs a TF.js graph model on one
// input, so livedet's own reader (livedet/tfjs/graph_model.py) can be compared with it.
//
// usage: node tfjs_peer.js MODEL.json INPUT.f32 OUTPUT.f32 [OUTPUT_NODE]
//   INPUT.f32: the model's single input, raw little-endian float32 (shape from its signature)
//   OUTPUT.f32: the output node's values, raw little-endian float32 (shape on stdout as JSON)
// @tensorflow/tfjs is found through NODE_PATH (the test points it at the cached node_modules).
"use strict";

const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");

async function main() {
  const [modelJson, inputFile, outputFile, outputNode = "tower_0/detections"] =
    process.argv.slice(2);
  if (!outputFile) throw new Error("usage: node tfjs_peer.js MODEL.json INPUT.f32 OUTPUT.f32");
  // The pure-JS CPU backend: no WebGL/WASM in node, and it is TF.js's reference arithmetic.
  await tf.setBackend("cpu");
  await tf.ready();

  const document = JSON.parse(fs.readFileSync(modelJson, "utf8"));
  // tf.loadGraphModel(path) would fetch over HTTP; fromMemory takes the same artifacts from disk:
  // the weight specs of every group in manifest order, their shards concatenated in that order.
  const weightSpecs = [];
  const shards = [];
  for (const group of document.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const name of group.paths) shards.push(fs.readFileSync(path.join(path.dirname(modelJson), name)));
  }
  const joined = Buffer.concat(shards);
  // A Buffer may be a view into a larger pool: copy exactly its bytes into an ArrayBuffer.
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: document.modelTopology,
      weightSpecs,
      weightData,
      format: document.format,
      signature: document.signature,
    }),
  );

  const [inputName] = Object.keys(model.signature.inputs);
  const shape = model.signature.inputs[inputName].tensorShape.dim.map((d) => Number(d.size));
  const raw = fs.readFileSync(inputFile);
  const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const input = tf.tensor(values, shape, "float32");

  let output;
  try {
    output = model.execute({ [inputName]: input }, outputNode);
  } catch (e) {
    // execute() refuses graphs with dynamic ops (NMS, TopK with control flow, ...)
    output = await model.executeAsync({ [inputName]: input }, outputNode);
  }
  const data = await output.data();
  fs.writeFileSync(outputFile, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  process.stdout.write(JSON.stringify({ shape: output.shape, backend: tf.getBackend() }) + "\n");
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + "\n");
  process.exit(1);
});
