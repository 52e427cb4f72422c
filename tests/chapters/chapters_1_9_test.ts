import assert from "node:assert/strict";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { readCsv } from "../../lib/util/csv.ts";
import {
  chooseFinal,
  comparisonCharts,
  type ComparisonRow,
} from "../../lib/chapters/06_comparison.ts";
import { pickExamples } from "../../lib/chapters/07_evaluation.ts";
import {
  activationLayers,
  architectureRows,
  tileChannels,
} from "../../lib/chapters/08_inside_the_model.ts";
import { balanceChart, type BalanceRow, balanceSummary } from "../../lib/chapters/09_balancing.ts";
import type { RunRecord } from "../../lib/train/run.ts";
import { makeRng } from "../../lib/util/rng.ts";
import type { SplitRecord } from "../../lib/data/types.ts";

const row = (run: string, AUC: number, F1: number, params: number): ComparisonRow => ({
  run,
  model: run,
  "train images": 100,
  loss: 0.3,
  accuracy: 0.9,
  recall: 0.9,
  precision: 0.9,
  F1,
  AUC,
  "trainable params": params,
  "total time (s)": 10,
  epochs: 2,
  "time per epoch (s)": 5,
  "confusion [[tn,fp],[fn,tp]]": "[[1,0],[0,1]]",
});

Deno.test("chooseFinal: highest AUC wins; near-ties go to F1, then to fewer parameters", () => {
  assert.equal(chooseFinal([row("a", 0.90, 0.9, 10), row("b", 0.95, 0.8, 20)]).run, "b");
  assert.equal(chooseFinal([row("a", 0.950, 0.9, 10), row("b", 0.953, 0.8, 20)]).run, "a");
  assert.equal(chooseFinal([row("a", 0.950, 0.9, 30), row("b", 0.951, 0.9, 20)]).run, "b");
  assert.equal(chooseFinal([row("a", NaN, 0.9, 30), row("b", 0.6, 0.5, 20)]).run, "b");
  const c = chooseFinal([row("a", 0.90, 0.9, 10), row("b", 0.95, 0.8, 20)]);
  assert.match(
    c.reasons[0],
    /best validation ROC-AUC of the 2 models, 0.950; the runner-up a has 0.900/,
  );
  assert.match(c.reasons[2], /20 trainable parameters \(the most of all\)/);
  assert.throws(() => chooseFinal([]), /no models/);
});

Deno.test("pickExamples takes the most confident image of each outcome", () => {
  const recs = [0, 0, 1, 1, 0].map((y, i) => ({ relPath: `f${i}`, y }) as unknown as SplitRecord);
  const ex = pickExamples(recs, [0.1, 0.3, 0.9, 0.2, 0.8], 0.5);
  assert.deepEqual(ex.TN, { relPath: "f0", prob: 0.1 });
  assert.deepEqual(ex.FP, { relPath: "f4", prob: 0.8 });
  assert.deepEqual(ex.FN, { relPath: "f3", prob: 0.2 });
  assert.deepEqual(ex.TP, { relPath: "f2", prob: 0.9 });
  assert.equal(pickExamples(recs.slice(0, 1), [0.1], 0.5).TP, null);
});

Deno.test("tileChannels lays channels out in a grid, each scaled to 0-255", () => {
  // 2x2 map with 3 channels (HWC): channel k holds k * (0, 1, 2, 3).
  const act = new Float32Array(12);
  for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) act[i * 3 + k] = k * i;
  const t = tileChannels(act, 2, 2, 3, 2);
  assert.equal(t.width, 5);
  assert.equal(t.height, 5);
  const px = (x: number, y: number) => t.pixels[y * t.width + x];
  assert.equal(px(0, 0), 0); // channel 0 is flat: black
  assert.equal(px(3, 0), 0); // channel 1, value 0
  assert.equal(px(4, 1), 255); // channel 1, max
  assert.equal(px(2, 0), 255); // the gap
  assert.equal(px(1, 4), 255); // channel 2, (1,1) = max
});

Deno.test("activationLayers picks convolutions (after BN + ReLU) and pooling; architectureRows lists layers", async () => {
  await tf.setBackend("cpu");
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [8, 8, 1] }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: "relu" }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 1 }));
  const picked = activationLayers(m);
  assert.equal(picked.length, 2);
  assert.equal(picked[0].label, "conv 1, 2 filters 3x3 (after batch norm + relu)");
  assert.equal(picked[0].layer, m.layers[2]);
  assert.equal(picked[1].label, "max pool 1, 2x2");
  const rows = architectureRows(m);
  assert.equal(rows.length, 6);
  assert.deepEqual(rows[0], {
    layer: "conv 1",
    detail: "2 filters 3x3",
    type: "Conv2D",
    "TF.js name": m.layers[0].name,
    "output shape": "6x6x2",
    params: 20,
    trainable: true,
  });
  m.dispose();
});

Deno.test("balanceSummary names the best mode per metric with its gain over none", () => {
  const r = (mode: BalanceRow["mode"], F1: number, recall: number) =>
    ({ mode, F1, AUC: 0.9, recall, specificity: 0.8 }) as unknown as BalanceRow;
  const text = balanceSummary([r("none", 0.80, 0.9), r("down", 0.85, 0.95), r("up", 0.82, 0.9)]);
  assert.match(text, /Best F1: \*\*down\*\* \(0.850, \+0.050 over no balancing\)/);
  assert.match(text, /Best recall: \*\*down\*\*/);
});

Deno.test("readCsv reads quoted fields with commas and quotes, empty fields, and names bad files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.csv`, 'w,x,y,z\na,"b,c","d""e",\n1,NaN,,3\n');
    assert.deepEqual(await readCsv(`${dir}/a.csv`), [
      { w: "a", x: "b,c", y: 'd"e', z: "" },
      { w: "1", x: "NaN", y: "", z: "3" },
    ]);
    await Deno.writeTextFile(`${dir}/empty.csv`, "");
    await assert.rejects(readCsv(`${dir}/empty.csv`), /empty\.csv is empty/);
    await assert.rejects(readCsv(`${dir}/missing.csv`), /missing\.csv/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("comparison and balancing charts: dots with patient-bootstrap intervals, not bars", () => {
  const rng = makeRng(3);
  const run = (name: string, skill: number) => {
    const y = Array.from({ length: 60 }, (_, i) => i % 2);
    const prob = y.map((v) =>
      Math.min(1, Math.max(0, 0.5 + (v - 0.5) * skill + rng() * 0.4 - 0.2))
    );
    const patient = y.map((_, i) => `p${Math.floor(i / 2)}`);
    return { name, val: { y, prob, patient, relPath: [] } } as unknown as RunRecord;
  };
  const [html] = comparisonCharts([run("a", 0.5), run("b", 0.7), run("c", 0.9)], 1);
  assert.match(html, /data-chart="dot-intervals"/);
  assert.doesNotMatch(html, /data-chart="bar"/);
  assert.ok(html.includes(">ROC-AUC<") && html.includes(">F1 at 0.5<"));
  assert.equal((html.match(/<circle/g) ?? []).length, 6, "a dot per model and metric");
  assert.match(html, /95% intervals from 1000 bootstrap resamples of whole patients/);
  const iv = { estimate: 0.8, lo: 0.7, hi: 0.9, nValid: 1000, nSkipped: 0 };
  const r = (mode: BalanceRow["mode"]) =>
    ({
      mode,
      accuracy: 0.8,
      recall: 0.8,
      precision: NaN,
      specificity: 0.8,
      F1: 0.8,
      AUC: 0.8,
      intervals: { accuracy: iv, sensitivity: iv, precision: iv, specificity: iv, f1: iv, auc: iv },
    }) as unknown as BalanceRow;
  const bal = balanceChart([r("none"), r("down")]);
  assert.equal((bal.match(/class="xr-panel"/g) ?? []).length, 6, "a panel per metric");
  assert.ok(bal.includes(">n/a<"), "an undefined precision is n/a, not a bar at 0");
});
