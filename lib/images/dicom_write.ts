/**
 * Writes an 8-bit gray picture as a DICOM file (with `dcmjs`), encoded so that a DICOM viewer (and
 * `dicom.ts`) shows exactly the original gray levels: for tests, and to try the screening tools
 * on DICOM input made from a JPEG or PNG.
 *
 * Encodings ({@link DicomWriteOptions}):
 * - 8 bits, MONOCHROME2, window center 128 / width 256 (identity);
 * - 16 bits allocated, 12 stored, value `16 * v + 8` (or `16 * (255 - v) + 8` for MONOCHROME1),
 *   with the VOI as a LUT (VOI LUT Sequence) or as a window, optionally through Rescale Slope 1 /
 *   Intercept -1024.
 *
 * Command line (`deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys
 * lib/images/dicom_write.ts IN.jpeg OUT.dcm [--monochrome1] [--bits 8|16] [--voi lut|window]`)
 * writes the image as the model's loader decodes it (upright, gray) at its full size.
 *
 * @example
 * ```ts
 * import { encodeDicom } from "./dicom_write.ts";
 * const bytes = encodeDicom(gray, 224, 224, { bits: 16, monochrome1: true, voi: "lut" });
 * ```
 * @module
 */
import dcmjs from "dcmjs";

/** How {@link encodeDicom} stores the picture. */
export interface DicomWriteOptions {
  /** Bits allocated: 8 (default) or 16 (12 stored). */
  bits?: 8 | 16;
  /** Store as MONOCHROME1 (white = low values), default false. */
  monochrome1?: boolean;
  /** 16 bits: VOI as a LUT sequence (default) or a window center/width. */
  voi?: "lut" | "window";
  /** 16 bits with a window: store through Rescale Intercept -1024 (default false). */
  rescale?: boolean;
  /** Pixel Aspect Ratio [vertical, horizontal], written as given (pixels are not resampled). */
  pixelAspect?: [number, number];
  /** Number of frames (the same picture repeated), default 1. */
  frames?: number;
  /** Leave out the pixel data (a non-image object, as a report would be). */
  noPixels?: boolean;
  /** Interleaved RGB pixels instead of gray (Photometric Interpretation RGB, 8 bits). */
  rgb?: boolean;
  /** Extra tags (dcmjs keyword -> value), e.g. `{ Modality: "CT", ViewPosition: "LL" }`. */
  tags?: Record<string, unknown>;
}

const UID_ROOT = "2.25.";
const DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1";
const EXPLICIT_LE = "1.2.840.10008.1.2.1";

/** A random UID under 2.25 (UUID-derived, as DICOM PS3.5 B.2 allows). */
function newUid(): string {
  const hex = crypto.randomUUID().replaceAll("-", "");
  return UID_ROOT + BigInt("0x" + hex).toString();
}

/** DICOM bytes for an 8-bit gray (or RGB) picture of `width x height`; see the module doc. */
export function encodeDicom(
  pixels: Uint8Array,
  width: number,
  height: number,
  opts: DicomWriteOptions = {},
): Uint8Array {
  const spp = opts.rgb ? 3 : 1;
  if (pixels.length !== width * height * spp) {
    throw new RangeError(`encodeDicom: ${pixels.length} bytes, expected ${width}x${height}x${spp}`);
  }
  const bits = opts.rgb ? 8 : opts.bits ?? 8;
  const frames = opts.frames ?? 1;
  const inv = !!opts.monochrome1 && !opts.rgb;
  const sop = newUid();
  const ds: Record<string, unknown> = {
    SOPClassUID: DX_FOR_PRESENTATION,
    SOPInstanceUID: sop,
    StudyInstanceUID: newUid(),
    SeriesInstanceUID: newUid(),
    Modality: "DX",
    BodyPartExamined: "CHEST",
    ViewPosition: "PA",
    PatientAge: "003Y",
    Rows: height,
    Columns: width,
    SamplesPerPixel: spp,
    PhotometricInterpretation: opts.rgb ? "RGB" : inv ? "MONOCHROME1" : "MONOCHROME2",
    BitsAllocated: bits,
    BitsStored: bits === 16 ? 12 : 8,
    HighBit: bits === 16 ? 11 : 7,
    PixelRepresentation: 0,
    ...(opts.rgb ? { PlanarConfiguration: 0 } : {}),
    ...(frames > 1 ? { NumberOfFrames: String(frames) } : {}),
    ...(opts.pixelAspect ? { PixelAspectRatio: opts.pixelAspect.map(String) } : {}),
    _vrMap: { PixelData: bits === 16 ? "OW" : "OB" },
  };
  const n = width * height * spp;
  let frame: Uint8Array | Uint16Array;
  if (bits === 8) {
    frame = inv ? pixels.map((v) => 255 - v) : pixels;
    if (!opts.rgb) Object.assign(ds, { WindowCenter: "128", WindowWidth: "256" });
  } else {
    const k = (v: number) => (inv ? 255 - v : v);
    frame = new Uint16Array(n);
    for (let i = 0; i < n; i++) frame[i] = 16 * k(pixels[i]) + 8;
    if ((opts.voi ?? "lut") === "lut") {
      const lut = new Uint16Array(4096);
      for (let s = 0; s < 4096; s++) lut[s] = Math.min(255, s >> 4) * 257;
      ds.VOILUTSequence = [{
        LUTDescriptor: [4096, 0, 16],
        LUTData: lut,
        _vrMap: { LUTData: "OW" },
      }];
    } else if (opts.rescale) {
      // Modality values m = s - 1024; window [8 - 1024, 4088 - 1024] maps 16 k + 8 - 1024 to k.
      Object.assign(ds, {
        RescaleSlope: "1",
        RescaleIntercept: "-1024",
        WindowCenter: "1024.5",
        WindowWidth: "4081",
      });
    } else Object.assign(ds, { WindowCenter: "2048.5", WindowWidth: "4081" });
  }
  if (!opts.noPixels) {
    const all = new (bits === 16 ? Uint16Array : Uint8Array)(n * frames);
    for (let f = 0; f < frames; f++) all.set(frame, f * n);
    ds.PixelData = [all.buffer];
  }
  Object.assign(ds, opts.tags ?? {});
  const { DicomMetaDictionary, DicomDict } = (dcmjs as any).data;
  // dcmjs reports the tags whose VR depends on context ("xs", "lt") and then picks US / UN,
  // which is what we want here; keep that note off the console.
  (dcmjs as any).log.getLogger("validation.dcmjs").setLevel("silent");
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: sop,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: UID_ROOT + "1",
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
  return new Uint8Array(dict.write());
}

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { readImageBytes, decodeRaw } = await import("./load.ts");
  const { flattenAlpha } = await import("./prepare.ts");
  const { srgbToGray } = await import("./resize.ts");
  const { values: v, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      monochrome1: { type: "boolean" },
      bits: { type: "string" },
      voi: { type: "string" },
      rescale: { type: "boolean" },
    },
  });
  const [input, output] = positionals;
  if (!input || !output) {
    console.error(
      "usage: dicom_write.ts IN OUT.dcm [--monochrome1] [--bits 8|16] [--voi lut|window] [--rescale]",
    );
    Deno.exit(2);
  }
  const { raw } = await decodeRaw(await readImageBytes(input), input);
  const flat = flattenAlpha(raw);
  const gray = flat.channels === 1
    ? new Uint8Array(flat.data)
    : srgbToGray(flat.data, flat.width * flat.height, 3);
  const bytes = encodeDicom(gray, flat.width, flat.height, {
    bits: v.bits === "16" ? 16 : 8,
    monochrome1: v.monochrome1,
    voi: v.voi === "window" ? "window" : "lut",
    rescale: v.rescale,
  });
  await Deno.writeFile(output, bytes);
  console.log(`wrote ${output} (${bytes.length} bytes, ${flat.width}x${flat.height})`);
}
