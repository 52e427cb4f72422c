import assert from "node:assert/strict";
import { trainingGrid, zoomedDomain } from "../../lib/charts/training_grid.ts";

Deno.test("trainingGrid: five panels side by side, the kept epoch marked, one legend", () => {
  const epochs = [1, 2, 3].map((e) => ({
    epoch: e,
    train: {
      loss: 0.7 - 0.1 * e,
      accuracy: 0.9 + 0.01 * e,
      recall: 0.95,
      precision: 0.9,
      f1: 0.92,
    },
    val: { loss: 0.6 - 0.05 * e, accuracy: 0.93, recall: NaN, precision: 0.91, f1: 0.92 },
  }));
  const html = trainingGrid(epochs, { title: "run", keptEpoch: 2 });
  assert.match(html, /data-chart="training-curves"/);
  assert.equal((html.match(/<svg[^>]*class="plot/g) ?? []).length, 5);
  assert.equal((html.match(/class="xr-legend"/g) ?? []).length, 1);
  assert.match(html, /kept epoch \(2\)/);
  assert.throws(() => trainingGrid([]), /no epochs/);
});

Deno.test("zoomedDomain pads the data's range and stays in [0, 1] for bounded metrics", () => {
  const [lo, hi] = zoomedDomain([0.93, 0.96], true);
  assert.ok(lo > 0.9 && lo < 0.93 && hi > 0.96 && hi <= 1);
  assert.deepEqual(zoomedDomain([0.99, 1], true)[1], 1);
  const [l2] = zoomedDomain([0.2, 0.25], false);
  assert.ok(l2 >= 0 && l2 < 0.2);
  assert.deepEqual(zoomedDomain([], true), [0, 1]);
});
