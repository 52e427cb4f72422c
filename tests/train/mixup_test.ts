import assert from "node:assert/strict";
import { betaSample, gammaSample, mixBatch } from "../../lib/train/mixup.ts";
import { makeRng } from "../../lib/util/rng.ts";
import { resolveConfig, sameConfig } from "../../lib/train/config.ts";

const moments = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: m, variance: xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length };
};

Deno.test("gammaSample and betaSample have their distributions' moments (seeded)", () => {
  const rng = makeRng(11);
  for (const shape of [0.2, 1, 3.5]) {
    const g = moments(Array.from({ length: 20000 }, () => gammaSample(rng, shape)));
    assert.ok(
      Math.abs(g.mean - shape) < 0.05 * Math.max(1, shape),
      `Gamma(${shape}) mean ${g.mean}`,
    );
    assert.ok(Math.abs(g.variance - shape) < 0.1 * Math.max(1, shape), `variance ${g.variance}`);
  }
  for (const a of [0.2, 2]) {
    const xs = Array.from({ length: 20000 }, () => betaSample(rng, a));
    assert.ok(xs.every((x) => x >= 0 && x <= 1));
    const b = moments(xs);
    const variance = 1 / (4 * (2 * a + 1)); // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1))
    assert.ok(Math.abs(b.mean - 0.5) < 0.01, `Beta(${a}) mean ${b.mean}`);
    assert.ok(Math.abs(b.variance - variance) < 0.01, `Beta(${a}) variance ${b.variance}`);
  }
  assert.deepEqual(
    Array.from({ length: 5 }, ((r) => () => betaSample(r, 0.2))(makeRng(3))),
    Array.from({ length: 5 }, ((r) => () => betaSample(r, 0.2))(makeRng(3))),
    "same seed, same draws",
  );
  assert.throws(() => gammaSample(rng, 0), /shape 0/);
});

Deno.test("mixBatch: images, targets and weights mixed with one weight and a permutation", () => {
  const n = 6, s = 4, d = 3;
  const x = Float32Array.from({ length: n * s }, (_, i) => i);
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) y[i * d + (i % 3)] = 1;
  const w = Float32Array.from({ length: n }, (_, i) => 1 + i);
  const [x0, y0, w0] = [x.slice(), y.slice(), w.slice()];
  const { lambda, partner } = mixBatch({ x, y, w, n, imageSize: s, outDim: d }, makeRng(5), 0.4);
  assert.ok(lambda > 0 && lambda < 1);
  assert.deepEqual([...partner].sort(), [0, 1, 2, 3, 4, 5], "a permutation of the batch");
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-4;
  for (let i = 0; i < n; i++) {
    const j = partner[i];
    for (let k = 0; k < s; k++) {
      assert.ok(close(x[i * s + k], lambda * x0[i * s + k] + (1 - lambda) * x0[j * s + k]));
    }
    let sum = 0;
    for (let k = 0; k < d; k++) {
      assert.ok(close(y[i * d + k], lambda * y0[i * d + k] + (1 - lambda) * y0[j * d + k]));
      sum += y[i * d + k];
    }
    assert.ok(close(sum, 1), "mixed one-hot rows still sum to 1");
    assert.ok(close(w[i], lambda * w0[i] + (1 - lambda) * w0[j]));
  }
  assert.throws(
    () => mixBatch({ x, y, w: w.subarray(1), n, imageSize: s, outDim: d }, makeRng(1), 0.2),
    /batch of 6 needs/,
  );
  assert.throws(() => mixBatch({ x, y, w, n, imageSize: s, outDim: d }, makeRng(1), 0), /alpha/);
});

Deno.test("config: mixup checked, absent in older configs means none", () => {
  const base = { model: "compact", data: "/d" };
  assert.equal(resolveConfig(base).mixup, null);
  assert.equal(resolveConfig({ ...base, mixup: 0.2 }).mixup, 0.2);
  assert.throws(() => resolveConfig({ ...base, mixup: -1 }), /mixup -1/);
  const cfg = resolveConfig(base);
  const old = { ...cfg } as Record<string, unknown>;
  delete old.mixup;
  assert.ok(sameConfig(cfg, old as unknown as typeof cfg));
  assert.ok(!sameConfig(cfg, resolveConfig({ ...base, mixup: 0.2 })));
});
