import assert from "node:assert/strict";
import { recipeConfig, RECIPES, SCREEN } from "../../bench/site_recipes.ts";
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
