import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { savedModelLayers } from "./lib/models/describe.ts";
for (const run of ["compact", "cnn", "cnn_reg", "dense_baseline_25", "transfer", "compact_3class"]) {
  try { console.log(run, savedModelLayers(`outputs/report/runs/${run}/model`).map((l) => `${l.name} [${l.detail}] ${l.outputShape} ${l.params}`).join(" | ")); } catch (e) { console.log(run, (e as Error).message.slice(0, 200)); }
}
