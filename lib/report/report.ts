/**
 * `runReport`: executes every chapter notebook in order with the report's settings, then writes
 * the executed notebooks and one self-contained HTML report. A failing notebook stops the run
 * with the notebook, cell and error named; notebooks executed before it, their run folders and a
 * partial report (marked incomplete) are kept.
 * @module
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { PROJECT_ROOT } from "../util/project.ts";
import { collectProvenance, parameterDefaults, provenanceHtml } from "./provenance.ts";
import { writeSyntheticDataset } from "../data/synthetic.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import { exists, notebookHash, progressKey, startProgress } from "./progress.ts";
import { REPRODUCTION_DIR, writeReproduction } from "./reproduction.ts";
import { type Chapter, chapterId, notebookFragment, reportHtml } from "./html.ts";
import {
  executeNotebook,
  listNotebooks,
  type Notebook,
  NotebookError,
  readNotebook,
} from "./runner.ts";
import { ReportProgress } from "./progress_watch.ts";
import {
  type Params,
  PROFILES,
  REPORT_ENV,
  type ReportSettings,
  reportSettings,
} from "./settings.ts";
import {
  cellTags,
  injectParameters,
  notebookOverrides,
  notebookParameterNames,
  PARAMETERS_TAG,
  parseSets,
  type SetOverride,
} from "./params.ts";

/** Options of {@link runReport}. */
export interface ReportOptions {
  profile: keyof typeof PROFILES;
  /** Dataset root; with `synthetic`, where the synthetic dataset is written. */
  data?: string;
  /** Make a synthetic dataset (lib/data/synthetic.ts) and report on it. */
  synthetic?: boolean;
  seed?: number;
  /** Output folder of executed notebooks and runs (default outputs/report); the HTML is `<out>.html`. */
  out?: string;
  /** Folder of chapter notebooks (default notebooks/). */
  notebooksDir?: string;
  /** Only notebooks whose file name starts with one of these prefixes (e.g. ["01", "02"]). */
  only?: string[];
  /**
   * Local TF.js base model for the transfer chapter. Default on real data: the offline base the
   * set-up builds from the pinned nsfwjs package ({@link DEFAULT_TRANSFER_BASE}), when it exists.
   */
  transferBase?: string;
  /**
   * A labelled second-site sample for the "second site" chapter ("none": no sample; default: the
   * chest_xray_site folder beside the data when it exists; with `synthetic`, a shifted synthetic
   * site written beside the synthetic data).
   */
  site?: string;
  /** A label table of the images in `data` (lib/data/tables.ts); absent: the class folders. */
  labels?: string;
  /** A label table of the images in `site`; absent: the site's class folders. */
  siteLabels?: string;
  /**
   * Start from an empty runs folder (`<out>/runs`) and results folder, so that every model is
   * trained in this report; within the report, later chapters still reuse earlier chapters' runs.
   */
  fresh?: boolean;
  /**
   * Overrides of the notebooks' parameters cells, `name=value` or `NN.name=value` (see
   * lib/report/params.ts); they win over the profile's values.
   */
  sets?: string[];
  /**
   * The command that made the report, shown in the page's reproducibility panel (the CLI passes
   * what was typed; default: this call's options).
   */
  command?: string;
  /** Progress lines (default console.error). */
  log?: (line: string) => void;
  /**
   * Where to write the reproduction record (lib/report/reproduction.ts) when every notebook ran:
   * default `outputs/reproduction` at the full profile with all notebooks, none otherwise; null:
   * none.
   */
  reproduction?: string | null;
}

/** What {@link runReport} produced. */
export interface ReportResult {
  html: string;
  executed: string[];
  settings: ReportSettings;
  seconds: Record<string, number>;
  totalSeconds: number;
  /** Set when a notebook failed (the report is partial). */
  failure: NotebookError | null;
  /** Notebooks not executed again: done by the unfinished report (interrupted or failed) this one continued. */
  skipped: string[];
  /** True when this call continued an unfinished report of the same command. */
  continued: boolean;
}

/**
 * The transfer chapter's base when none is given: the MobileNetV2 trunk `.ci/setup` cuts from the
 * npm package nsfwjs@4.4.0 (ImageNet-initialised, then fine-tuned on a non-medical task; its
 * base.json says so and the chapter shows it). Relative to the project root.
 */
export const DEFAULT_TRANSFER_BASE = join("outputs", "bases", "mobilenet_v2_128");

/**
 * The base the transfer chapter uses: the one given, else on real data the default base when it
 * was built; synthetic runs (the tests) get none unless given, so they stay small.
 */
export function transferBaseFor(
  o: Pick<ReportOptions, "transferBase" | "synthetic">,
): string | undefined {
  if (o.transferBase) return o.transferBase;
  if (o.synthetic) return undefined;
  const path = join(PROJECT_ROOT, DEFAULT_TRANSFER_BASE);
  return existsSync(join(path, "model.json")) ? path : undefined;
}

/** The report's settings from the CLI options (same resolution as a notebook's). */
export function resolveReportSettings(o: ReportOptions): ReportSettings {
  const env = new Map<string, string>();
  env.set(REPORT_ENV.profile, o.profile);
  if (o.data) env.set(REPORT_ENV.data, o.data);
  if (o.seed !== undefined) env.set(REPORT_ENV.seed, String(o.seed));
  if (o.out) env.set(REPORT_ENV.out, o.out);
  const base = transferBaseFor(o);
  if (base) env.set(REPORT_ENV.base, base);
  if (o.site) env.set(REPORT_ENV.site, o.site);
  if (o.labels) env.set(REPORT_ENV.labels, o.labels);
  if (o.siteLabels) env.set(REPORT_ENV.siteLabels, o.siteLabels);
  if (o.synthetic && !o.data) {
    env.set(REPORT_ENV.data, join("outputs", "synthetic", `${o.profile}-s${o.seed ?? 42}`));
  }
  if (o.synthetic && !o.site) env.set(REPORT_ENV.site, `${env.get(REPORT_ENV.data)}-site`);
  return reportSettings({ get: (k) => env.get(k) });
}

/** Runs the whole report; see the module doc. */
export async function runReport(o: ReportOptions): Promise<ReportResult> {
  const s = resolveReportSettings(o);
  const t0 = performance.now();
  // Notebooks and overrides are checked before anything is written or removed.
  const dir = o.notebooksDir ?? join(s.root, "notebooks");
  let notebooks = await listNotebooks(dir);
  if (o.only?.length) {
    notebooks = notebooks.filter((n) => o.only!.some((p) => basename(n).startsWith(p)));
  }
  // Lines per epoch and per chapter with their ETA (a bar on a terminal), above which log prints.
  const live = await ReportProgress.start({
    out: s.out,
    notebooks,
    log: o.log ?? ((l: string) => console.error(l)),
    tty: o.log ? false : undefined,
  });
  const log = live.log;
  const sets = parseSets(o.sets ?? []);
  const prepared = await prepareNotebooks(notebooks, s, sets, transferBaseFor(o) !== undefined);
  if (o.synthetic) {
    const done = await Deno.stat(join(s.data, "train")).then(() => true, () => false);
    if (!done) {
      // About the real data's imbalance (1 normal : 3 pneumonia), so balancing has work to do.
      const n = s.profile.syntheticPerClass;
      const r = await writeSyntheticDataset(s.data, {
        perClass: { NORMAL: Math.round(n / 2), PNEUMONIA: Math.round((3 * n) / 2) },
        size: 64,
        seed: s.seed,
      });
      log(`wrote a synthetic dataset of ${r.files.length} images to ${s.data}`);
    }
    if (s.site && !(await Deno.stat(s.site).then(() => true, () => false))) {
      // A second site: other exposure and contrast, a bright frame, and 65% pneumonia.
      const n = s.profile.syntheticPerClass;
      const r = await writeSyntheticDataset(s.site, {
        perClass: { NORMAL: Math.round(0.7 * n), PNEUMONIA: Math.round(1.3 * n) },
        size: 64,
        seed: s.seed + 1,
        splits: ["test"],
        shift: { gamma: 0.8, gain: 0.85, offset: 30, border: 0.06 },
      });
      log(`wrote a shifted synthetic site of ${r.files.length} images to ${s.site}`);
    }
  }
  const record = await startProgress(s.out, progressKey(o, s, notebooks), !!o.fresh);
  if (record.continued) {
    log(
      `report: continuing the unfinished report (interrupted or failed) started ${record.state.startedAt} ` +
        `(${Object.keys(record.state.done).length} notebook(s) done; finished runs are reused, ` +
        "an interrupted run resumes at its last finished epoch)",
    );
  } else if (o.fresh) {
    for (const d of [s.runsDir, join(s.out, "results")]) {
      await Deno.remove(d, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
    log(`report: --fresh: removed ${s.runsDir} and ${join(s.out, "results")}`);
  }
  const executed: string[] = [];
  const skipped: string[] = [];
  const seconds: Record<string, number> = {};
  let failure: NotebookError | null = null;
  try {
    for (const nb of notebooks) {
      const file = basename(nb);
      const hash = notebookHash(prepared.get(nb)?.notebook ?? await readNotebook(nb));
      const outPath = join(s.out, file);
      const prior = record.state.done[file];
      if (prior?.hash === hash && (await exists(outPath))) {
        skipped.push(outPath);
        executed.push(outPath);
        seconds[file] = record.state.spent[file] ?? prior.seconds;
        log(`report: ${file} was done by the unfinished report: kept`);
        live.chapterDone();
        continue;
      }
      log(`report: executing ${file} (profile ${s.profile.name})`);
      record.enter(file);
      try {
        executed.push(
          await live.watch(nb, () =>
            executeNotebook(nb, {
              outDir: s.out,
              cellTimeoutS: s.profile.notebookTimeoutS,
              notebook: prepared.get(nb)?.notebook,
              env: live.env,
            })),
        );
      } catch (err) {
        if (!(err instanceof NotebookError)) throw err;
        failure = err;
        log(`report: ${err.message}`);
        break;
      } finally {
        seconds[file] = record.leave();
      }
      await record.done(file, hash, seconds[file]);
      log(`report: ${file} done in ${seconds[file].toFixed(0)} s` + live.chapterDone());
    }
  } finally {
    await record.stop(failure === null && executed.length === notebooks.length);
  }
  await live.close();
  const chapters: Chapter[] = [];
  for (const path of executed) {
    const file = basename(path);
    chapters.push({
      id: chapterId(file),
      file,
      fragment: await notebookFragment(path),
      seconds: seconds[file],
    });
  }
  // Wall time of the whole report, the interrupted calls it continued included.
  const totalSeconds = record.state.priorS + (performance.now() - t0) / 1000;
  const provenance = await collectProvenance({
    command: o.command ?? `runReport(${JSON.stringify({ ...o, log: undefined })})`,
    runsDir: join(s.out, "runs"),
    settings: Object.fromEntries(
      [...prepared].map((
        [nb, p],
      ) => [basename(nb), { ...parameterDefaults(p.notebook), ...p.values }]),
    ),
  });
  const html = reportHtml(chapters, {
    provenance: provenanceHtml(provenance),
    title: "Pneumonia detection in pediatric chest X-rays",
    profile: s.profile.name,
    data: s.data,
    seed: s.seed,
    created: new Date().toISOString(),
    totalSeconds,
    failure: failure?.message,
    notes: [
      ...(o.synthetic
        ? [
          "This report was made on a synthetic dataset (lib/data/synthetic.ts): its numbers say nothing about X-rays.",
        ]
        : []),
      ...(sets.length ? [`Settings changed with --set: ${setsText(sets)}.`] : []),
    ],
  });
  await writeJsonAtomic(join(s.out, "settings.json"), {
    schema: "xray-report-settings/1",
    profile: s.profile.name,
    data: s.data,
    seed: s.seed,
    out: s.out,
    html: `${s.out.replace(/\/+$/, "")}.html`,
    sets: o.sets ?? [],
    created: new Date().toISOString(),
    totalSeconds,
    // Read back by the next report for its ETA (lib/report/progress_watch.ts).
    chapterSeconds: seconds,
    failure: failure?.message ?? null,
    command: provenance.command,
    commit: provenance.commit,
    dirty: provenance.dirty,
    versions: provenance.versions,
    backends: provenance.backends,
    notebooks: provenance.settings,
  });
  const htmlPath = `${s.out.replace(/\/+$/, "")}.html`;
  await Deno.mkdir(dirname(htmlPath), { recursive: true });
  await writeFileAtomic(htmlPath, html);
  log(`report: wrote ${htmlPath} (${chapters.length} chapters, ${totalSeconds.toFixed(0)} s)`);
  const repro = o.reproduction !== undefined
    ? o.reproduction
    : s.profile.name === "full" && !o.only?.length
    ? join(s.root, REPRODUCTION_DIR)
    : null;
  if (repro && failure === null) {
    await writeReproduction(repro, {
      settings: s,
      profile: s.profile.name,
      startedAt: record.state.startedAt,
      freshStart: record.state.fresh,
      seconds: totalSeconds,
      chapters: Object.fromEntries(
        Object.entries(seconds).map(([k, v]) => [k.replace(/\.ipynb$/, ""), v]),
      ),
      commit: provenance.commit,
      dirty: provenance.dirty,
      command: provenance.command,
    });
    log(`report: wrote the reproduction record to ${repro}`);
  }
  return {
    html: htmlPath,
    executed,
    settings: s,
    seconds,
    totalSeconds,
    failure,
    skipped,
    continued: record.continued,
  };
}

/** `name: value` of each override, as the page states them. */
export function setsText(sets: readonly SetOverride[]): string {
  return sets.map((x) =>
    `${x.notebook ? `${x.notebook}.` : ""}${x.name}: ${
      typeof x.value === "string" ? x.value : JSON.stringify(x.value)
    }`
  ).join(", ");
}

/**
 * Each notebook with its parameters cell's overrides injected (notebooks without a parameters
 * cell run as they are). An override that no notebook declares is an error naming it.
 */
export async function prepareNotebooks(
  paths: readonly string[],
  s: ReportSettings,
  sets: readonly SetOverride[],
  withBase: boolean,
): Promise<Map<string, { notebook: Notebook; values: Params }>> {
  const out = new Map<string, { notebook: Notebook; values: Params }>();
  const declared = new Set<string>();
  const report: Params = {
    data: s.data,
    out: s.out,
    seed: s.seed,
    site: s.site ?? "none",
    labels: s.labels ?? null,
    siteLabels: s.siteLabels ?? null,
  };
  if (withBase) report.base = s.transferBase;
  for (const path of paths) {
    const file = basename(path);
    const nb = await readNotebook(path);
    if (!nb.cells.some((c) => cellTags(c).includes(PARAMETERS_TAG))) continue;
    const names = notebookParameterNames(nb, file);
    names.forEach((n) => declared.add(`${file.slice(0, 2)}.${n}`));
    const values = notebookOverrides(names, {
      profile: s.profile,
      notebookId: file.slice(0, 2),
      report,
      sets,
    });
    out.set(path, { notebook: injectParameters(nb, values, file), values });
  }
  for (const x of sets) {
    const hit = [...declared].some((d) =>
      x.notebook ? d === `${x.notebook}.${x.name}` : d.endsWith(`.${x.name}`)
    );
    if (!hit && out.size > 0) {
      throw new Error(
        `--set ${x.notebook ? `${x.notebook}.` : ""}${x.name}: no notebook run here has ` +
          `a parameter "${x.name}" in its parameters cell`,
      );
    }
  }
  return out;
}
