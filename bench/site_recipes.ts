/**
 * Training recipes compared for what holds up at a second site, in one command:
 *
 * ```sh
 * deno run --allow-read --allow-write=outputs --allow-env --allow-ffi --allow-sys \
 *   bench/site_recipes.ts --data ../shared/data/chest_xray --site ../shared/data/chest_xray_site
 * ```
 *
 * Trains every recipe of {@link RECIPES} in turn into `outputs/recipes/<name>/` (a finished run
 * with the same config is reused, an interrupted one resumed), then scores each on the training
 * folder's validation and patient-level test parts and on the site sample at its strict
 * threshold (chosen on validation), with patient-bootstrap intervals, and writes
 * `outputs/recipes/table.json` and `table.md` (lib/eval/recipe_table.ts). A recipe whose runs are
 * unfinished, missing or trained with another config stays in the table as "not measured", with
 * the epochs and time spent so far. Options: `--only a,b` (those recipes; the previous table's
 * rows of the others are kept), `--no-train` (score finished runs only), `--out DIR`, `--base DIR` (the
 * pretrained base of `finetune`, default outputs/bases/mobilenet_v2_128, made by
 * lib/models/nsfwjs_base.ts). The site sample chooses among recipes; no recipe trains on it.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/select.ts";
import { splitRecords } from "../lib/cli/_eval_data.ts";
import { defaultTrainWorkers } from "../lib/train/parallel/start.ts";
import { discoverDataset } from "../lib/data/discover.ts";
import {
  mergeRows,
  recipeRow,
  type RecipeTable,
  recipeTableMarkdown,
  type RecipeTableRow,
  type UnmeasuredRow,
} from "../lib/eval/recipe_table.ts";
import { scoreForSite } from "../lib/eval/site_eval.ts";
import type { AdaptMode } from "../lib/eval/adapt.ts";
import type { Preprocessing } from "../lib/models/types.ts";
import {
  resolveConfig,
  sameConfig,
  type TrainConfig,
  type TrainConfigInput,
} from "../lib/train/config.ts";
import { train } from "../lib/train/train.ts";
import type { RunSummary } from "../lib/train/train.ts";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../lib/util/atomic.ts";

/** A recipe: a training run (overrides of a budget), or a way of scoring other recipes' runs. */
export interface Recipe {
  name: string;
  what: string;
  /** Training: the budget and what differs from it. */
  train?: { budget: Partial<TrainConfigInput>; with?: Partial<TrainConfigInput> };
  /**
   * Scoring only: these recipes' runs as an ensemble, with TTA, and adaptation to the scored
   * images without their labels (AdaBN on the site's images for the site column, on the test
   * part's for the test column).
   */
  score?: { members: string[]; tta?: number; adapt?: AdaptMode };
}

/**
 * The screening budget: the reference's recipe (compact 128 px grayscale, class weights, learning
 * rate 0.002 decayed x0.75 per epoch, the lowest val loss kept, threshold with a margin) on half
 * of the train split for 4 epochs.
 */
export const SCREEN: Partial<TrainConfigInput> = {
  model: "compact",
  fraction: 0.5,
  epochs: 4,
  balance: "weights",
  learningRate: 0.002,
  lrDecay: 0.75,
  earlyStopping: { metric: "val_loss", patience: 3 },
  seed: 42,
  threshold: { targetSensitivity: 0.95, perturbedCopies: 5 },
};

/**
 * The full budget of the shipped model: the whole train split for up to 8 epochs (the reference
 * had 6; strong augmentation was still improving after 4 of the screening budget).
 */
export const FULL: Partial<TrainConfigInput> = { ...SCREEN, fraction: 1, epochs: 8 };

/** The recipes, in the order they train. */
export const RECIPES: Recipe[] = [
  { name: "s-base", what: "reference recipe, screening budget", train: { budget: SCREEN } },
  {
    name: "s-equalize",
    what: "+ histogram equalisation of every image",
    train: { budget: SCREEN, with: { intensity: "equalize" } },
  },
  {
    name: "s-strong",
    what: "+ strong photometric and geometric augmentation",
    train: { budget: SCREEN, with: { augmentation: "strong" } },
  },
  {
    name: "s-finetune",
    what: "MobileNetV2 (nsfwjs, ImageNet-initialised) with its top blocks fine-tuned, 128 px RGB",
    train: { budget: SCREEN, with: { model: "finetune", learningRate: 5e-4, channels: 3 } },
  },
  {
    name: "s-crop",
    what: "+ every image cropped to the central chest box (framing)",
    train: { budget: SCREEN, with: { chestRegion: "crop" } },
  },
  {
    name: "f-strong",
    what: "strong augmentation, full budget (all of the train split, up to 8 epochs)",
    train: { budget: FULL, with: { augmentation: "strong" } },
  },
  {
    name: "f-strong-bn",
    what: "f-strong, AdaBN on the scored images (no labels)",
    score: { members: ["f-strong"], adapt: "bn" },
  },
  {
    name: "f-strong-tta",
    what: "f-strong, TTA (8 augmented copies)",
    score: { members: ["f-strong"], tta: 8 },
  },
  {
    name: "s-long",
    what: "+ twice the epochs (8)",
    train: { budget: SCREEN, with: { epochs: 8 } },
  },
  {
    name: "s-224",
    what: "+ input 224 px instead of 128",
    train: { budget: SCREEN, with: { size: 224 } },
  },
  {
    name: "f-strong-s7",
    what: "f-strong with seed 7 (for the ensemble)",
    train: { budget: FULL, with: { augmentation: "strong", seed: 7 } },
  },
  {
    name: "f-ensemble",
    what: "ensemble of f-strong and f-strong-s7",
    score: { members: ["f-strong", "f-strong-s7"] },
  },
  {
    name: "f-ensemble-bn",
    what: "f-ensemble, AdaBN on the scored images (no labels)",
    score: { members: ["f-strong", "f-strong-s7"], adapt: "bn" },
  },
  {
    name: "f-long",
    what: "standard augmentation, full budget (the previous reference's recipe, 8 epochs)",
    train: { budget: FULL },
  },
  {
    name: "s-tta",
    what: "s-base, TTA (8 augmented copies)",
    score: { members: ["s-base"], tta: 8 },
  },
  {
    name: "s-ensemble",
    what: "ensemble of s-base, s-equalize and s-strong",
    score: { members: ["s-base", "s-equalize", "s-strong"] },
  },
  {
    name: "f-strong-14",
    what: "f-strong for up to 14 epochs (its val loss still fell at epoch 8)",
    train: { budget: FULL, with: { augmentation: "strong", epochs: 14 } },
  },
  {
    name: "f-ensemble-3",
    what: "ensemble of the three strong full-budget runs (f-strong, f-strong-s7, f-strong-14)",
    score: { members: ["f-strong", "f-strong-s7", "f-strong-14"] },
  },
  {
    name: "f-strong-clahe",
    what: "f-strong with CLAHE (local contrast equalisation) of every image",
    train: { budget: FULL, with: { augmentation: "strong", intensity: "clahe" } },
  },
  {
    name: "f-strong-swa",
    what: "f-strong, the kept model the weight average of epochs 4 on (SWA)",
    train: { budget: FULL, with: { augmentation: "strong", weightAverage: { fromEpoch: 4 } } },
  },
  {
    name: "f-strong-96",
    what: "f-strong at input 96 px (224 px did worse than 128 at the site)",
    train: { budget: FULL, with: { augmentation: "strong", size: 96 } },
  },
  {
    name: "f-framing",
    what: "f-strong, zooming in up to 1.5x (the over-scored site normals are framed tighter)",
    train: { budget: FULL, with: { augmentation: "framing" } },
  },
  {
    name: "f-ensemble-clahe",
    what: "ensemble of f-strong and f-strong-clahe (two input normalisations)",
    score: { members: ["f-strong", "f-strong-clahe"] },
  },
  {
    name: "f-strong-clahe-s7",
    what: "f-strong-clahe with seed 7 (does the two-normalisation ensemble hold at another seed?)",
    train: { budget: FULL, with: { augmentation: "strong", intensity: "clahe", seed: 7 } },
  },
  {
    name: "f-ensemble-clahe-s7",
    what: "ensemble of f-strong-s7 and f-strong-clahe-s7",
    score: { members: ["f-strong-s7", "f-strong-clahe-s7"] },
  },
  {
    name: "f-strong-std",
    what: "f-strong with per-image standardisation (an ensemble member the screening page can run)",
    train: { budget: FULL, with: { augmentation: "strong", intensity: "standardize" } },
  },
  {
    name: "f-ensemble-norm3",
    what: "ensemble of f-strong, f-strong-clahe and f-strong-std (three input normalisations)",
    score: { members: ["f-strong", "f-strong-clahe", "f-strong-std"] },
  },
  {
    name: "f-strong-std-s7",
    what: "f-strong-std with seed 7 (does the three-normalisation ensemble hold at another seed?)",
    train: { budget: FULL, with: { augmentation: "strong", intensity: "standardize", seed: 7 } },
  },
  {
    name: "f-ensemble-norm3-s7",
    what: "ensemble of f-strong-s7, f-strong-clahe-s7 and f-strong-std-s7",
    score: { members: ["f-strong-s7", "f-strong-clahe-s7", "f-strong-std-s7"] },
  },
  {
    name: "f-strong-s13",
    what:
      "f-strong with seed 13 (a third seed for the normalisation ensembles, trained after the choice)",
    train: { budget: FULL, with: { augmentation: "strong", seed: 13 } },
  },
  {
    name: "f-strong-clahe-s13",
    what: "f-strong-clahe with seed 13",
    train: { budget: FULL, with: { augmentation: "strong", intensity: "clahe", seed: 13 } },
  },
  {
    name: "f-strong-std-s13",
    what: "f-strong-std with seed 13",
    train: { budget: FULL, with: { augmentation: "strong", intensity: "standardize", seed: 13 } },
  },
  {
    name: "f-ensemble-clahe-s13",
    what: "ensemble of f-strong-s13 and f-strong-clahe-s13",
    score: { members: ["f-strong-s13", "f-strong-clahe-s13"] },
  },
  {
    name: "f-ensemble-norm3-s13",
    what: "ensemble of f-strong-s13, f-strong-clahe-s13 and f-strong-std-s13",
    score: { members: ["f-strong-s13", "f-strong-clahe-s13", "f-strong-std-s13"] },
  },
  {
    name: "f-strong-mixup",
    what: "f-strong with mixup (Beta(0.2, 0.2) mixing of image pairs and labels)",
    train: { budget: FULL, with: { augmentation: "strong", mixup: 0.2 } },
  },
];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The resolved config of a training recipe (the finetune base brings its own pixel scaling). */
export async function recipeConfig(
  r: Recipe,
  data: string,
  outDir: string,
  baseDir: string,
): Promise<TrainConfig> {
  const input = { ...r.train!.budget, ...r.train!.with } as TrainConfigInput;
  let extra: Partial<TrainConfigInput> = {};
  if (input.model === "finetune" || input.model === "transfer") {
    const pre = await readJson<Preprocessing>(join(baseDir, "preprocessing.json")).catch(() => {
      throw new Error(
        `recipe ${r.name} needs the pretrained base ${baseDir} (preprocessing.json); make it with ` +
          "lib/models/nsfwjs_base.ts (see README, transfer) or pass --base DIR",
      );
    });
    extra = {
      basePath: baseDir,
      size: pre.size,
      scaling: { scale: pre.scale, mean: pre.mean, std: pre.std },
    };
  }
  return resolveConfig({
    ...input,
    ...extra,
    data,
    name: r.name,
    out: join(outDir, r.name),
  });
}

/** Where a recipe's run stands: finished with its config, unfinished, missing or another config. */
export interface RunState {
  name: string;
  state: "finished" | "unfinished" | "missing" | "other config";
  epochs: number;
  trainS: number;
  /** Epochs the config asks for (null: no config). */
  ofEpochs: number | null;
}

/** The state of the run in `dir` against the recipe's config (null: the config did not resolve). */
export async function runState(
  name: string,
  dir: string,
  cfg: TrainConfig | null,
): Promise<RunState> {
  const saved = await readJson<TrainConfig>(join(dir, "config.json")).catch(() => null);
  const summary = await readJson<RunSummary>(join(dir, "summary.json")).catch(() => null);
  const ofEpochs = cfg?.epochs ?? null;
  if (saved && cfg && !sameConfig(saved, cfg)) {
    return { name, state: "other config", epochs: 0, trainS: 0, ofEpochs };
  }
  if (summary) {
    return {
      name,
      state: "finished",
      epochs: summary.epochsRun,
      trainS: summary.totalTimeS,
      ofEpochs,
    };
  }
  // Unfinished: the epochs logged so far (metrics.csv, one line per epoch, time_s last).
  const csv = await Deno.readTextFile(join(dir, "metrics.csv")).catch(() => "");
  const lines = csv.trim().split("\n").slice(1).filter((l) => l.trim());
  const trainS = lines.reduce((t, l) => t + (Number(l.split(",").at(-1)) || 0), 0);
  return {
    name,
    state: saved || lines.length ? "unfinished" : "missing",
    epochs: lines.length,
    trainS,
    ofEpochs,
  };
}

/** The row of a recipe whose runs are not all finished with its config (null: they are). */
export function unmeasured(
  r: Recipe,
  states: RunState[],
  configError?: string,
): UnmeasuredRow | null {
  const why = configError
    ? [configError]
    : states.filter((s) => s.state !== "finished").map((s) =>
      s.state === "unfinished"
        ? `unfinished run ${s.name} (${s.epochs}${s.ofEpochs ? ` of ${s.ofEpochs}` : ""} epochs)`
        : s.state === "missing"
        ? `run ${s.name} not trained`
        : `run ${s.name} was trained with another config`
    );
  if (why.length === 0) return null;
  return {
    name: r.name,
    what: r.what,
    runs: states.map((s) => s.name),
    notMeasured: why.join("; "),
    trainS: r.train ? states.reduce((t, s) => t + s.trainS, 0) : 0,
    epochs: r.train ? states.reduce((t, s) => t + s.epochs, 0) : 0,
  };
}

/** Trains the recipe's run unless a finished run with the same config is there. */
async function ensureTrained(cfg: TrainConfig, log: (l: string) => void): Promise<void> {
  const saved = await readJson<TrainConfig>(join(cfg.out, "config.json")).catch(() => null);
  const same = sameConfig(saved, cfg);
  if (same && await exists(join(cfg.out, "summary.json"))) {
    return log(`${cfg.name}: finished run reused`);
  }
  const resume = same && await exists(join(cfg.out, "checkpoint"));
  const file = `${cfg.out}.log`;
  await Deno.mkdir(join(cfg.out, ".."), { recursive: true });
  log(`${cfg.name}: training${resume ? " (resumed)" : ""}, log in ${file}`);
  await train(cfg, {
    resume,
    workers: defaultTrainWorkers(cfg, await initBackend()),
    log: (l) => Deno.writeTextFileSync(file, l + "\n", { append: true }),
  });
}

/** Runs the recipes (see the module doc); returns the table. */
export async function main(args: string[]): Promise<RecipeTable> {
  const { values: v } = parseArgs({
    args,
    options: {
      data: { type: "string" },
      site: { type: "string" },
      only: { type: "string" },
      "no-train": { type: "boolean" },
      out: { type: "string", default: "outputs/recipes" },
      base: { type: "string", default: "outputs/bases/mobilenet_v2_128" },
    },
  });
  if (!v.data || !v.site) {
    throw new Error(
      "usage: bench/site_recipes.ts --data TRAIN_DIR --site SITE_DIR [--only a,b] [--no-train]",
    );
  }
  const log = (l: string) => console.error(`recipes: ${l}`);
  await initBackend();
  const only = v.only?.split(",");
  const chosen = RECIPES.filter((r) => !only || only.includes(r.name));
  const configs = new Map<string, TrainConfig | null>();
  const configErrors = new Map<string, string>();
  for (const r of RECIPES.filter((r) => r.train)) {
    configs.set(
      r.name,
      await recipeConfig(r, v.data, v.out!, v.base!).catch((e) => {
        log(`${r.name}: ${(e as Error).message}`);
        configErrors.set(r.name, (e as Error).message);
        return null;
      }),
    );
  }
  for (const r of chosen.filter((r) => r.train && configs.get(r.name))) {
    if (!v["no-train"]) await ensureTrained(configs.get(r.name)!, log);
  }
  const site = (await discoverDataset(v.site)).records;
  const test = await splitRecords(v.data, "test");
  const rows: RecipeTableRow[] = [];
  for (const r of chosen) {
    const members = r.score?.members ?? [r.name];
    const dirs = members.map((m) => join(v.out!, m));
    const states = await Promise.all(
      members.map((m, i) => runState(m, dirs[i], configs.get(m) ?? null)),
    );
    const error = members.map((m) => configErrors.get(m)).find((e) => e);
    const gap = unmeasured(r, states, error);
    if (gap) {
      log(`${r.name}: not measured, ${gap.notMeasured}`);
      rows.push(gap);
      continue;
    }
    const opts = {
      runs: dirs,
      tta: r.score?.tta ?? 0,
      adapt: r.score?.adapt ?? "none",
      withValidation: true,
    };
    const siteScoring = await scoreForSite({ ...opts, records: site, source: v.site });
    const testScoring = await scoreForSite({ ...opts, records: test.records, source: test.source });
    const summaries = await Promise.all(
      dirs.map((d) => readJson<RunSummary>(join(d, "summary.json"))),
    );
    rows.push(recipeRow(r, siteScoring, testScoring, {
      trainS: summaries.reduce((s, x) => s + x.totalTimeS, 0),
      epochs: summaries.reduce((s, x) => s + x.epochsRun, 0),
      trainImages: summaries[0].trainImages,
    }));
    log(`${r.name}: scored`);
  }
  // With --only, the other recipes' rows of the previous table (same data and site) are kept.
  const previous = only
    ? await readJson<RecipeTable>(join(v.out!, "table.json")).catch(() => null)
    : null;
  const keep = previous?.data === v.data && previous?.site === v.site ? previous.rows : [];
  const table: RecipeTable = {
    schema: "xray-recipes/1",
    created: new Date().toISOString(),
    data: v.data,
    site: v.site,
    rows: mergeRows(keep, rows, RECIPES.map((r) => r.name)),
  };
  await writeJsonAtomic(join(v.out!, "table.json"), table);
  await writeFileAtomic(join(v.out!, "table.md"), recipeTableMarkdown(table.rows) + "\n");
  console.log(recipeTableMarkdown(table.rows));
  return table;
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`site_recipes: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
