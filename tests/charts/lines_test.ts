import assert from "node:assert/strict";
import { lineChart, prChart, rocChart, trainingCurve } from "../../lib/charts/lines.ts";

Deno.test("trainingCurve draws a train and a validation line, labelled", () => {
  const pts = [1, 2, 3].map((e) => ({ epoch: e, train: 0.5 / e, val: 0.6 / e }));
  const html = trainingCurve(pts, "loss");
  assert.match(html, /data-chart="line"/);
  const lines = html.split('aria-label="line"')[1].split("</g>")[0];
  assert.equal((lines.match(/<path/g) ?? []).length, 2);
  assert.ok(html.includes(">train<") && html.includes(">validation<"));
  assert.ok(html.includes(">epoch"));
});

Deno.test("trainingCurve keeps bounded metrics on 0-1 and skips a missing series", () => {
  const html = trainingCurve([{ epoch: 1, train: 0.7 }, { epoch: 2, train: 0.8 }], "accuracy");
  assert.ok(!html.includes(">validation<"));
  assert.ok(html.includes(">1.0<"), "y axis reaches 1.0");
});

Deno.test("rocChart names curves with their AUC and adds the chance line", () => {
  const html = rocChart([{ name: "cnn", fpr: [0, 0.1, 1], tpr: [0, 0.9, 1], auc: 0.95 }]);
  assert.ok(html.includes("cnn (AUC 0.950)"));
  assert.ok(html.includes(">chance<"));
  assert.ok(html.includes("stroke-dasharray"));
});

Deno.test("prChart draws the prevalence baseline", () => {
  const html = prChart([{ name: "m", recall: [0, 0.5, 1], precision: [1, 0.9, 0.7] }], {
    prevalence: 0.74,
  });
  assert.ok(html.includes(">prevalence<"));
});

Deno.test("lineChart rejects series without finite points", () => {
  assert.throws(() => lineChart([{ name: "x", points: [{ x: NaN, y: 1 }] }]), /no finite points/);
});
