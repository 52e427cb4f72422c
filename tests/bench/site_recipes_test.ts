import assert from "node:assert/strict";
import { join } from "node:path";
import { recipeConfig, RECIPES, runState, SCREEN, unmeasured } from "../../bench/site_recipes.ts";
import { resolveConfig, sameConfig } from "../../lib/train/config.ts";

Deno.test("site recipes: names unique, scoring rows name trained recipes, configs resolve", async () => {
  const names = RECIPES.map((r) => r.name);
  assert.equal(new Set(names).size, names.length);
  const trained = new Set(RECIPES.filter((r) => r.train).map((r) => r.name));
  for (const r of RECIPES) {
    assert.ok(r.train || r.score, r.name);
    for (const m of r.score?.members ?? []) assert.ok(trained.has(m), `${r.name} -> ${m}`);
  }
  // The base recipe is the command line the screening runs were started with.
  const base = await recipeConfig(RECIPES[0], "/d", "outputs/recipes", "/no/base");
  const cli = resolveConfig({
    ...SCREEN,
    model: "compact",
    data: "/d",
    name: "s-base",
    out: "outputs/recipes/s-base",
  });
  assert.ok(sameConfig(base, cli));
  assert.equal(base.fraction, 0.5);
  const strong = RECIPES.find((r) => r.name === "f-strong")!;
  const f = await recipeConfig(strong, "/d", "outputs/recipes", "/no/base");
  assert.equal(f.augmentation, "strong");
  assert.equal(f.fraction, 1);
  const ft = RECIPES.find((r) => r.train?.with?.model === "finetune")!;
  await assert.rejects(
    recipeConfig(ft, "/d", "outputs/recipes", "/no/base"),
    /needs the pretrained base \/no\/base/,
  );
});

Deno.test("site recipes: unfinished, missing and other-config runs are listed as not measured", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const recipe = RECIPES.find((r) => r.name === "f-strong")!;
    const cfg = await recipeConfig(recipe, "/d", dir, "/no/base");
    const run = join(dir, "f-strong");
    assert.equal((await runState("f-strong", run, cfg)).state, "missing");
    await Deno.mkdir(run);
    await Deno.writeTextFile(join(run, "config.json"), JSON.stringify(cfg));
    await Deno.writeTextFile(
      join(run, "metrics.csv"),
      "epoch,loss,time_s\n1,0.3,151.5\n2,0.2,173.25\n",
    );
    const partial = await runState("f-strong", run, cfg);
    assert.deepEqual(partial, {
      name: "f-strong",
      state: "unfinished",
      epochs: 2,
      trainS: 324.75,
      ofEpochs: 8,
    });
    const gap = unmeasured(recipe, [partial])!;
    assert.equal(gap.notMeasured, "unfinished run f-strong (2 of 8 epochs)");
    assert.equal(gap.epochs, 2);
    // A scoring row over it is not measured either, and spent no training of its own.
    const ens = RECIPES.find((r) => r.name === "f-ensemble")!;
    const missing = await runState("f-strong-s7", join(dir, "f-strong-s7"), null);
    const g2 = unmeasured(ens, [partial, missing])!;
    assert.equal(
      g2.notMeasured,
      "unfinished run f-strong (2 of 8 epochs); run f-strong-s7 not trained",
    );
    assert.equal(g2.trainS, 0);
    await Deno.writeTextFile(
      join(run, "summary.json"),
      JSON.stringify({ epochsRun: 8, totalTimeS: 1361 }),
    );
    const done = await runState("f-strong", run, cfg);
    assert.equal(done.state, "finished");
    assert.equal(unmeasured(recipe, [done]), null);
    const other = await runState("f-strong", run, { ...cfg, seed: 1 });
    assert.equal(other.state, "other config");
    assert.match(unmeasured(recipe, [other])!.notMeasured, /trained with another config/);
    assert.equal(unmeasured(recipe, [done], "needs the base")!.notMeasured, "needs the base");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
