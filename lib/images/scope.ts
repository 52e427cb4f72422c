/**
 * Out-of-scope warnings: is this image what the model was built for, a frontal pediatric chest
 * X-ray like the training images? The checks, each a plain function shared by the command line
 * and the browser page:
 *
 * | code          | fires when                                                            |
 * | ------------- | --------------------------------------------------------------------- |
 * | `colour`      | mean colourfulness (max - min of R, G, B) above 6 of 255: a photograph |
 * | `too_small`   | the shorter side has fewer pixels than the model's input              |
 * | `too_dark`    | mean or share of black pixels beyond the validation images' range     |
 * | `saturated`   | mean or share of white pixels beyond the validation images' range     |
 * | `low_contrast`| standard deviation below the validation images' range                 |
 * | `not_frontal` | left-right asymmetry beyond the validation images' (a lateral view?)  |
 * | `unfamiliar`  | feature distance above the 95th percentile of validation (`ood.ts`)    |
 * | `dicom_*`     | DICOM tags: modality not a radiograph (CT, MR...), body part not the  |
 * |               | chest, a lateral view position, a patient age outside 1-5 years       |
 *
 * The image statistics' ranges are the 0.5th and 99.5th percentiles over the run's validation
 * images, stored with the run in `ood.json` ({@link OodFile}, made by `lib/train/ood.ts`); the
 * feature threshold (`lib/metrics/ood.ts`) lets 95% of validation images pass. A flagged image is
 * still scored, and its warnings travel with the score: it is never scored silently.
 *
 * @example
 * ```ts
 * import { imageStats, scopeWarnings } from "./scope.ts";
 * const stats = imageStats(raw, input, 128, 1);
 * const warnings = scopeWarnings({ stats, distance, dicom: null, size: 128 }, ood);
 * ```
 * @module
 */
import type { DicomInfo } from "./dicom.ts";
import type { RawImage } from "./prepare.ts";
import { type OodFit, quantile } from "../metrics/ood.ts";

/** Statistics of one image the checks read. */
export interface ImageStats {
  /** Decoded size (square pixels), before resizing. */
  width: number;
  height: number;
  /** Mean over pixels of max(R, G, B) - min(R, G, B), 0-255; 0 for a gray image. */
  colour: number;
  /** Mean and standard deviation of the model's input pixels (first channel), 0-255. */
  mean: number;
  std: number;
  /** Shares of input pixels at most 8 (black) and at least 247 (white). */
  dark: number;
  bright: number;
  /**
   * 1 - correlation of the input with its mirror image (on a 16 x 16 grid of cell means): 0 for
   * a left-right symmetric picture, up to 2.
   */
  asymmetry: number;
}

/** In-distribution ranges of the statistics, [low, high] (percentiles 0.5 and 99.5). */
export interface StatRanges {
  mean: [number, number];
  std: [number, number];
  dark: [number, number];
  bright: [number, number];
  asymmetry: [number, number];
  /** Validation images they were computed on. */
  images: number;
}

/** `ood.json` in a run folder: feature fit plus statistics ranges. */
export interface OodFile {
  schema: string;
  /** Name of the layer whose input the features are. */
  layer: string;
  features: OodFit;
  stats: StatRanges;
  /** What the fit used (data folder, manifest, split sizes) and when. */
  fittedOn: Record<string, unknown>;
  created: string;
}

/** File name of the out-of-scope reference in a run folder. */
export const OOD_FILE = "ood.json";

/** One warning: a stable code and a sentence for a person. */
export interface ScopeWarning {
  code: string;
  message: string;
}

/** Colourfulness above which an image is called a colour picture (0-255 scale). */
export const COLOUR_LIMIT = 6;

/** Cells per side of the grid the left-right asymmetry is measured on. */
const GRID = 16;

/** Pixels sampled for the colourfulness of a large image. */
const COLOUR_SAMPLES = 250_000;

/**
 * Statistics of one image: `raw` is the decoded picture (for size and colour; null when only the
 * model input is known, as for training data), `input` the model's uint8 input (size x size x
 * channels).
 */
export function imageStats(
  raw: RawImage | null,
  input: Uint8Array,
  size: number,
  channels: 1 | 3,
): ImageStats {
  const n = size * size;
  if (input.length !== n * channels) {
    throw new RangeError(
      `imageStats: input has ${input.length} bytes, expected ${size}x${size}x${channels}`,
    );
  }
  let colour = 0;
  if (raw && raw.channels >= 3) {
    const px = raw.width * raw.height, step = Math.max(1, Math.floor(px / COLOUR_SAMPLES));
    let sum = 0, count = 0;
    for (let i = 0; i < px; i += step, count++) {
      const p = i * raw.channels, r = raw.data[p], g = raw.data[p + 1], b = raw.data[p + 2];
      sum += Math.max(r, g, b) - Math.min(r, g, b);
    }
    colour = sum / count;
  }
  let s = 0, s2 = 0, dark = 0, bright = 0;
  for (let i = 0; i < n; i++) {
    const v = input[i * channels];
    s += v, s2 += v * v;
    if (v <= 8) dark++;
    if (v >= 247) bright++;
  }
  const mean = s / n, std = Math.sqrt(Math.max(0, s2 / n - mean * mean));
  // Correlation with the left-right mirror, on a 16 x 16 grid of cell means (the gross anatomy:
  // lungs either side of the spine), so that rib texture and noise do not dominate.
  const m = Math.min(GRID, size), cells = new Float64Array(m * m), counts = new Float64Array(m * m);
  for (let y = 0; y < size; y++) {
    const cy = Math.floor((y * m) / size);
    for (let x = 0; x < size; x++) {
      const c = cy * m + Math.floor((x * m) / size);
      cells[c] += input[(y * size + x) * channels], counts[c]++;
    }
  }
  let cm = 0, cv = 0, cov = 0;
  for (let c = 0; c < m * m; c++) cells[c] /= counts[c], cm += cells[c] / (m * m);
  for (let c = 0; c < m * m; c++) cv += (cells[c] - cm) ** 2;
  for (let y = 0; y < m; y++) {
    for (let x = 0; x < m; x++) cov += (cells[y * m + x] - cm) * (cells[y * m + m - 1 - x] - cm);
  }
  const corr = cv > 0 ? cov / cv : 1;
  return {
    width: raw?.width ?? size,
    height: raw?.height ?? size,
    colour,
    mean,
    std,
    dark: dark / n,
    bright: bright / n,
    asymmetry: 1 - corr,
  };
}

/** The in-distribution ranges of a set of statistics (percentiles 0.5 and 99.5). */
export function statRanges(stats: readonly ImageStats[]): StatRanges {
  const range = (k: keyof ImageStats): [number, number] => {
    const v = stats.map((s) => s[k]);
    return [quantile(v, 0.005), quantile(v, 0.995)];
  };
  return {
    mean: range("mean"),
    std: range("std"),
    dark: range("dark"),
    bright: range("bright"),
    asymmetry: range("asymmetry"),
    images: stats.length,
  };
}

const LATERAL_VIEWS = new Set(["LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "XTABLE"]);
const RADIOGRAPH_MODALITIES = new Set(["CR", "DX", "RG", "DR"]);
const CHEST_PARTS = new Set(["CHEST", "THORAX", "LUNG", "PORT CHEST"]);

/** Age in years from a DICOM Age String ("004Y", "018M", "030W", "010D"), or null. */
export function dicomAgeYears(age: string | null): number | null {
  const m = /^(\d{1,3})([DWMY])$/.exec((age ?? "").trim());
  if (!m) return null;
  const v = Number(m[1]);
  return m[2] === "Y" ? v : m[2] === "M" ? v / 12 : m[2] === "W" ? v / 52.18 : v / 365.25;
}

/** The checks on DICOM tags (see the module doc). */
export function dicomWarnings(info: DicomInfo): ScopeWarning[] {
  return metadataWarnings({
    modality: info.modality,
    bodyPart: info.bodyPart,
    viewPosition: info.viewPosition,
    ageYears: dicomAgeYears(info.patientAge),
    ageText: info.patientAge,
  });
}

/** What a DICOM header or a label table says about an image, for {@link metadataWarnings}. */
export interface ImageMetadata {
  modality?: string | null;
  bodyPart?: string | null;
  viewPosition?: string | null;
  /** Patient age in years (null: unknown). */
  ageYears?: number | null;
  /** The age as written (`004Y`, `58`), for the message. */
  ageText?: string | null;
}

/**
 * The out-of-scope checks on an image's metadata (DICOM tags, or a label table's age and view
 * columns): the `dicom_*` rows of the module doc, whatever the source, so the page, `predict` and
 * the audit's per-dataset summary say the same.
 */
export function metadataWarnings(info: ImageMetadata): ScopeWarning[] {
  const out: ScopeWarning[] = [];
  if (info.modality && !RADIOGRAPH_MODALITIES.has(info.modality.toUpperCase())) {
    out.push({
      code: "dicom_modality",
      message: `DICOM modality ${info.modality}: not a radiograph` +
        (info.modality.toUpperCase() === "CT" ? " (a CT slice?)" : "") +
        "; the model reads frontal chest X-rays (CR/DX)",
    });
  }
  if (info.bodyPart && !CHEST_PARTS.has(info.bodyPart.toUpperCase())) {
    out.push({
      code: "dicom_body_part",
      message: `DICOM body part ${info.bodyPart}: not the chest`,
    });
  }
  if (info.viewPosition && LATERAL_VIEWS.has(info.viewPosition.toUpperCase())) {
    out.push({
      code: "dicom_lateral",
      message: `DICOM view position ${info.viewPosition}: a lateral view; the model reads ` +
        "frontal (PA/AP) films",
    });
  }
  const years = info.ageYears ?? null;
  if (years !== null && (years < 1 || years >= 6)) {
    out.push({
      code: "dicom_age",
      message: `patient age ${info.ageText ?? years}: outside the training population (children ` +
        "aged 1-5); the model's error rates do not apply",
    });
  }
  return out;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * The warnings for one image: its statistics, its feature distance (null when the run has no
 * `ood.json`), its DICOM tags (null for JPEG/PNG), the model's input size, and the run's
 * `ood.json` (null: only the fixed checks run).
 */
export function scopeWarnings(
  img: { stats: ImageStats; distance: number | null; dicom: DicomInfo | null; size: number },
  ood: OodFile | null,
): ScopeWarning[] {
  const { stats: s, size } = img;
  const out: ScopeWarning[] = [];
  if (s.colour > COLOUR_LIMIT) {
    out.push({
      code: "colour",
      message: `colour image (colourfulness ${s.colour.toFixed(1)} > ${COLOUR_LIMIT}): X-rays ` +
        "are grayscale; a photograph or a screenshot?",
    });
  }
  if (Math.min(s.width, s.height) < size) {
    out.push({
      code: "too_small",
      message: `too small: ${s.width}x${s.height} pixels, the model reads ${size}x${size}; ` +
        "use the original film",
    });
  }
  if (img.dicom) out.push(...dicomWarnings(img.dicom));
  if (ood) {
    const r = ood.stats;
    if (s.mean < r.mean[0] || s.dark > r.dark[1]) {
      out.push({
        code: "too_dark",
        message: `too dark: mean ${s.mean.toFixed(0)}, ${pct(s.dark)} black pixels (training ` +
          `films: mean >= ${r.mean[0].toFixed(0)}, <= ${pct(r.dark[1])} black)`,
      });
    }
    if (s.mean > r.mean[1] || s.bright > r.bright[1]) {
      out.push({
        code: "saturated",
        message: `too bright or saturated: mean ${s.mean.toFixed(0)}, ${pct(s.bright)} white ` +
          `pixels (training films: mean <= ${r.mean[1].toFixed(0)}, <= ${pct(r.bright[1])} white)`,
      });
    }
    if (s.std < r.std[0]) {
      out.push({
        code: "low_contrast",
        message: `low contrast: standard deviation ${s.std.toFixed(1)} (training films >= ` +
          `${r.std[0].toFixed(1)})`,
      });
    }
    if (s.asymmetry > r.asymmetry[1]) {
      out.push({
        code: "not_frontal",
        message: `not like a frontal chest film: left-right asymmetry ${s.asymmetry.toFixed(2)} ` +
          `(training films <= ${r.asymmetry[1].toFixed(2)}); a lateral view or another picture?`,
      });
    }
    if (img.distance !== null && img.distance > ood.features.threshold) {
      out.push({
        code: "unfamiliar",
        message: `unlike the training images: feature distance ${img.distance.toFixed(1)} > ` +
          `${ood.features.threshold.toFixed(1)} (exceeded by ` +
          `${pct(1 - ood.features.quantile)} of validation images)`,
      });
    }
  }
  return out;
}
