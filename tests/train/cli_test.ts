import assert from "node:assert/strict";
import { join } from "node:path";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";

/** Runs `deno task NAME ...args` (the real task, with its permissions) and returns its output. */
async function task(name: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("CLI: train 2 epochs at size 32, evaluate --json, predict", async () => {
  const data = await Deno.makeTempDir();
  const out = `outputs/tmp/cli-smoke-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await writeSyntheticDataset(data, { perClass: 10, size: 48, seed: 3 });
    const t = await task("train", [
      "--model",
      "compact",
      "--data",
      data,
      "--size",
      "32",
      "--epochs",
      "2",
      "--out",
      out,
      "--seed",
      "1",
      "--batch",
      "8",
      "--chest-region",
      "mask",
    ]);
    assert.equal(t.code, 0, t.stderr + t.stdout);
    const pre = JSON.parse(await Deno.readTextFile(join(out, "preprocessing.json")));
    assert.equal(pre.chestRegion, "mask", "--chest-region is stored with the run");
    assert.ok(JSON.parse(await Deno.readTextFile(join(out, "calibration.json"))).temperature > 0);
    assert.match(t.stdout, /epoch 1\/2 loss/);
    assert.match(t.stdout, /epoch 2\/2 loss/);

    const e = await task("evaluate", ["--run", out, "--data", data, "--json"]);
    assert.equal(e.code, 0, e.stderr);
    const j = JSON.parse(e.stdout);
    assert.deepEqual(Object.keys(j), [
      "auc",
      "accuracy",
      "sensitivity",
      "specificity",
      "precision",
      "f1",
      "threshold",
      "confusion",
      "n",
    ]);
    assert.equal(j.n, 20);
    assert.equal(j.confusion.flat().reduce((a: number, b: number) => a + b, 0), 20);

    const a = await task("evaluate", [
      ...["--run", out, "--data", data, "--adapt", "bn+prior", "--calibrate", data],
      ...["--ci", "--n-boot", "20", "--json"],
    ]);
    assert.equal(a.code, 0, a.stderr);
    const ja = JSON.parse(a.stdout);
    assert.equal(ja.adapt, "bn+prior");
    assert.match(ja.thresholdFrom, /calibrated on the labels of/);
    assert.ok(ja.intervals.auc.nValid > 0 && ja.prior.site.prior > 0);
    const curve = await task("evaluate", [
      ...["--run", out, "--calibrate", data, "--curve", "8,all", "--draws", "10", "--json"],
    ]);
    assert.equal(curve.code, 0, curve.stderr);
    const curveRows = JSON.parse(curve.stdout);
    assert.deepEqual(curveRows.map((r: { size: number | string }) => r.size), [8, "all"]);
    const bad = await task("evaluate", ["--run", out, "--data", data, "--adapt", "x"]);
    assert.equal(bad.code, 2, "a bad --adapt value is a usage error (exit 2)");
    assert.match(bad.stderr, /--adapt must be one of none, bn, prior, bn\+prior, got "x"/);

    const files = [join(data, "test", "NORMAL"), join(data, "test", "PNEUMONIA")];
    const one = [...Deno.readDirSync(files[1])][0].name;
    const p = await task("predict", ["--run", out, join(files[1], one), "--json"]);
    assert.equal(p.code, 0, p.stderr);
    const rows = JSON.parse(p.stdout);
    assert.equal(rows.length, 1);
    assert.ok(rows[0].prob >= 0 && rows[0].prob <= 1);
    assert.ok(["NORMAL", "PNEUMONIA"].includes(rows[0].label));

    const badPredict = await task("predict", ["--run", out, join(data, "nope.jpeg")]);
    assert.equal(badPredict.code, 1);
    assert.match(badPredict.stdout, /nope\.jpeg.*error/);
  } finally {
    await Deno.remove(data, { recursive: true });
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test("CLI: deno task ensemble refuses too few members and names a missing run", async () => {
  const one = await task("ensemble", ["--members", "outputs/recipes/a", "--out", "outputs/tmp/e"]);
  assert.equal(one.code, 2, "one member is a usage error (exit 2)");
  assert.match(one.stderr, /--members needs two or more run folders/);
  const missing = `outputs/tmp/no-such-run-${crypto.randomUUID().slice(0, 8)}`;
  const r = await task("ensemble", [
    ...["--members", `${missing},outputs/reference/members/f-strong`],
    ...["--out", `outputs/tmp/ens-${crypto.randomUUID().slice(0, 8)}`],
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${missing}/config\\.json is missing`));
});

Deno.test("CLI: deno task evaluate refuses a flag its form would ignore, before any work", async () => {
  const r = await task("evaluate", ["--calibrate", "outputs/tmp/no-site", "--adapt", "bn", "--ci"]);
  assert.equal(r.code, 2, "a flag the form ignores is a usage error (exit 2)");
  assert.match(
    r.stderr,
    /--adapt, --ci do not apply to site calibration on a sample \(--calibrate without --data or --curve\)/,
  );
  assert.match(r.stderr, /usage: deno task evaluate/);
});
