/**
 * DICOM input: one chest radiograph from a DICOM Part 10 file, rendered to 8-bit pixels the way
 * a viewer shows it, for the command line and the browser page alike (no sharp, no Deno APIs:
 * the caller passes a JPEG decoder, sharp on the command line, the browser's own in the page).
 *
 * Tags are read with `dicom-parser`. The rendering follows DICOM PS3.3 C.11 (grayscale pipeline):
 * 1. stored values: Bits Allocated 8/16/32, Bits Stored and High Bit (masked, shifted), Pixel
 *    Representation (signed values sign-extended), byte order of the transfer syntax;
 * 2. Modality LUT: Rescale Slope and Intercept;
 * 3. VOI: the first VOI LUT Sequence item, else the first Window Center / Width (VOI LUT Function
 *    LINEAR, LINEAR_EXACT or SIGMOID), else the full range of the image, onto 0-255;
 * 4. Photometric Interpretation: MONOCHROME1 (white = low values) inverted; RGB and YBR_FULL kept
 *    as colour;
 * 5. Pixel Aspect Ratio (else Pixel Spacing / Imager Pixel Spacing): non-square pixels resampled
 *    (nearest) to square ones, so the picture has its true proportions.
 *
 * Uncompressed transfer syntaxes (implicit and explicit little endian, explicit big endian) are
 * decoded here; JPEG baseline (1.2.840.10008.1.2.4.50, what dcmtk's `img2dcm` writes) goes to the
 * caller's JPEG decoder. Multi-frame images, objects without pixel data (reports, presentation
 * states) and other compressed transfer syntaxes are refused with a reason.
 *
 * @example
 * ```ts
 * import { decodeDicom, isDicom } from "./dicom.ts";
 * if (isDicom(bytes)) {
 *   const { image, info } = await decodeDicom(bytes, jpegDecoder);
 *   // image: { data, width, height, channels: 1 | 3 }; info.modality, info.viewPosition, ...
 * }
 * ```
 * @module
 */
import dicomParser from "dicom-parser";
import type { DataSet } from "dicom-parser";
import {
  DicomError,
  type DicomInfo,
  renderColour,
  renderGray,
  storedValues,
  us,
} from "./_dicom_pixels.ts";
import type { RawImage } from "./prepare.ts";

export { DicomError, type DicomInfo };
import { resizeNearest } from "./resize.ts";

/** Decodes JPEG bytes to 8-bit pixels (sharp on the command line, the browser in the page). */
export type JpegDecoder = (jpeg: Uint8Array) => Promise<RawImage>;

const TS = {
  implicitLE: "1.2.840.10008.1.2",
  explicitLE: "1.2.840.10008.1.2.1",
  explicitBE: "1.2.840.10008.1.2.2",
  deflated: "1.2.840.10008.1.2.1.99",
  jpegBaseline: "1.2.840.10008.1.2.4.50",
} as const;

/** Names of transfer syntaxes we refuse, for the error message. */
const TS_NAMES: Record<string, string> = {
  [TS.deflated]: "deflated explicit little endian",
  "1.2.840.10008.1.2.4.51": "JPEG extended (12-bit)",
  "1.2.840.10008.1.2.4.57": "JPEG lossless",
  "1.2.840.10008.1.2.4.70": "JPEG lossless SV1",
  "1.2.840.10008.1.2.4.80": "JPEG-LS lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS near-lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.5": "RLE lossless",
};

/** SOP classes without an image, named in the error. */
const NON_IMAGE_SOP: Record<string, string> = {
  "1.2.840.10008.5.1.4.1.1.88.11": "a basic text structured report",
  "1.2.840.10008.5.1.4.1.1.88.22": "an enhanced structured report",
  "1.2.840.10008.5.1.4.1.1.88.33": "a comprehensive structured report",
  "1.2.840.10008.5.1.4.1.1.11.1": "a grayscale softcopy presentation state",
  "1.2.840.10008.5.1.4.1.1.104.1": "an encapsulated PDF",
  "1.2.840.10008.5.1.4.1.1.66": "raw data",
};

/** True when the bytes carry the DICOM Part 10 signature ("DICM" at byte 128). */
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 &&
    bytes[130] === 0x43 && bytes[131] === 0x4d;
}

function str(ds: DataSet, tag: string): string | null {
  const v = ds.string(tag);
  return v === undefined || v === "" ? null : v.trim();
}

function num(ds: DataSet, tag: string, index = 0): number | null {
  const v = ds.floatString(tag, index);
  return v === undefined || !Number.isFinite(v) ? null : v;
}

/** Parses the bytes; dicom-parser's exceptions become a DicomError. */
function parse(bytes: Uint8Array): DataSet {
  try {
    return dicomParser.parseDicom(bytes);
  } catch (err) {
    const msg = typeof err === "string"
      ? err
      : (err as { exception?: string }).exception ?? (err as Error).message ?? String(err);
    throw new DicomError(`not a readable DICOM file (${msg})`);
  }
}

/** Height / width of one pixel from Pixel Aspect Ratio, else the pixel spacings, else 1. */
function pixelAspect(ds: DataSet): number {
  const v = num(ds, "x00280034", 0), h = num(ds, "x00280034", 1);
  if (v !== null && h !== null && v > 0 && h > 0) return v / h;
  for (const tag of ["x00280030", "x00181164"]) {
    const row = num(ds, tag, 0), col = num(ds, tag, 1);
    if (row !== null && col !== null && row > 0 && col > 0) return row / col;
  }
  return 1;
}

/** Reads and checks the tags; throws DicomError for what we cannot render. */
export function readDicomInfo(ds: DataSet): DicomInfo {
  const sop = str(ds, "x00080016");
  const pixelData = ds.elements.x7fe00010;
  if (!pixelData) {
    const what = sop && NON_IMAGE_SOP[sop] ? NON_IMAGE_SOP[sop] : `SOP class ${sop ?? "unknown"}`;
    throw new DicomError(
      `not an image: this DICOM object (${what}) has no Pixel Data (7FE0,0010); expected a ` +
        "chest radiograph",
    );
  }
  const frames = ds.intString("x00280008") ?? 1;
  if (frames > 1) {
    throw new DicomError(
      `multi-frame DICOM (${frames} frames): a chest radiograph is one frame; export the ` +
        "frame to read as its own file",
    );
  }
  const transferSyntax = str(ds, "x00020010") ?? TS.implicitLE;
  const known = [TS.implicitLE, TS.explicitLE, TS.explicitBE, TS.jpegBaseline] as string[];
  if (!known.includes(transferSyntax)) {
    const name = TS_NAMES[transferSyntax] ?? "unknown";
    throw new DicomError(
      `transfer syntax ${transferSyntax} (${name}) is not supported; supported: uncompressed ` +
        "(implicit/explicit little endian, explicit big endian) and JPEG baseline " +
        "(1.2.840.10008.1.2.4.50); decompress first (e.g. dcmtk `dcmdjpeg IN OUT`)",
    );
  }
  const rows = us(ds, "x00280010", 0), columns = us(ds, "x00280011", 0);
  if (!(rows > 0 && columns > 0)) {
    throw new DicomError(`image has ${rows} rows and ${columns} columns; expected both > 0`);
  }
  const bitsAllocated = us(ds, "x00280100", 8);
  const bitsStored = us(ds, "x00280101", bitsAllocated);
  const wc = num(ds, "x00281050"), ww = num(ds, "x00281051");
  return {
    rows,
    columns,
    transferSyntax,
    photometric: str(ds, "x00280004") ?? "MONOCHROME2",
    bitsAllocated,
    bitsStored,
    signed: us(ds, "x00280103", 0) === 1,
    rescaleSlope: num(ds, "x00281053") ?? 1,
    rescaleIntercept: num(ds, "x00281052") ?? 0,
    voi: ds.elements.x00283010?.items?.length
      ? "lut"
      : wc !== null && ww !== null
      ? "window"
      : "range",
    window: wc !== null && ww !== null
      ? { center: wc, width: ww, fn: str(ds, "x00281056") ?? "LINEAR" }
      : null,
    pixelAspect: pixelAspect(ds),
    modality: str(ds, "x00080060"),
    bodyPart: str(ds, "x00180015"),
    viewPosition: str(ds, "x00185101"),
    patientAge: str(ds, "x00101010"),
    sopClassUid: sop,
  };
}

/** Resamples non-square pixels to square ones (nearest), keeping the width. */
function squarePixels(img: RawImage, aspect: number): RawImage {
  if (Math.abs(aspect - 1) < 1e-3) return img;
  const height = Math.max(1, Math.round(img.height * aspect));
  const data = resizeNearest(img.data, img.width, img.height, img.channels, img.width, height);
  return { data, width: img.width, height, channels: img.channels };
}

/**
 * Renders a DICOM file (bytes) to 8-bit pixels (1 channel for monochrome, 3 for colour) with
 * square pixels, and returns what the rendering used. Throws {@link DicomError}.
 */
export async function decodeDicom(
  bytes: Uint8Array,
  decodeJpeg: JpegDecoder,
): Promise<{ image: RawImage; info: DicomInfo }> {
  if (!isDicom(bytes)) {
    throw new DicomError('not a DICOM Part 10 file ("DICM" expected at byte 128)');
  }
  const ds = parse(bytes);
  const info = readDicomInfo(ds);
  const el = ds.elements.x7fe00010;
  const mono = info.photometric === "MONOCHROME1" || info.photometric === "MONOCHROME2";
  const colour = ["RGB", "YBR_FULL", "YBR_FULL_422"].includes(info.photometric);
  if (!mono && !colour) {
    throw new DicomError(
      `Photometric Interpretation ${info.photometric} is not supported; expected MONOCHROME1, ` +
        "MONOCHROME2, RGB or YBR_FULL",
    );
  }
  let image: RawImage;
  const { rows: height, columns: width } = info;
  if (info.transferSyntax === TS.jpegBaseline) {
    let jpeg: Uint8Array;
    try {
      jpeg = el.encapsulatedPixelData
        ? dicomParser.readEncapsulatedImageFrame(
          ds,
          el,
          0,
          dicomParser.createJPEGBasicOffsetTable(ds, el),
        )
        : ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
    } catch (err) {
      throw new DicomError(`cannot read the JPEG frame (${(err as Error).message ?? err})`);
    }
    let dec: RawImage;
    try {
      dec = await decodeJpeg(new Uint8Array(jpeg));
    } catch (err) {
      throw new DicomError(`cannot decode the JPEG frame (${(err as Error).message ?? err})`);
    }
    if (dec.width !== width || dec.height !== height) {
      throw new DicomError(
        `JPEG frame is ${dec.width}x${dec.height} but the header says ${width}x${height}`,
      );
    }
    if (mono) {
      const n = width * height, stored = new Float64Array(n);
      for (let i = 0; i < n; i++) stored[i] = dec.data[i * dec.channels];
      image = {
        data: renderGray(ds, { ...info, bitsStored: 8 }, stored),
        width,
        height,
        channels: 1,
      };
    } else if (dec.channels >= 3) {
      const n = width * height, rgb = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) rgb[i * 3 + c] = dec.data[i * dec.channels + c];
      }
      image = { data: rgb, width, height, channels: 3 };
    } else image = { data: dec.data, width, height, channels: 1 };
  } else if (el.encapsulatedPixelData) {
    throw new DicomError("Pixel Data is encapsulated but the transfer syntax is uncompressed");
  } else if (mono) {
    if ((ds.uint16("x00280002") ?? 1) !== 1) {
      throw new DicomError(`${info.photometric} with more than one sample per pixel`);
    }
    const stored = storedValues(ds, el, info, 1);
    image = { data: renderGray(ds, info, stored), width, height, channels: 1 };
  } else {
    image = { data: renderColour(ds, el, info), width, height, channels: 3 };
  }
  return { image: squarePixels(image, info.pixelAspect), info };
}

/** What a DICOM file's header says, without decoding its pixels (see {@link readDicomHeader}). */
export interface DicomHeader {
  /** Pixel Data (7FE0,0010) present. */
  hasPixels: boolean;
  /** Number of Frames (1 when absent). */
  frames: number;
  /** View Position (0018,5101): PA, AP, LL, RL, LATERAL...; null when absent. */
  viewPosition: string | null;
  /** Patient ID (0010,0020). */
  patientId: string | null;
  /** SOP Instance UID (0008,0018). */
  sopInstanceUid: string | null;
  /** Modality (0008,0060), Body Part Examined (0018,0015), Patient's Age (0010,1010). */
  modality: string | null;
  bodyPart: string | null;
  patientAge: string | null;
}

/**
 * Reads the tags that decide whether a DICOM file is one frontal chest image, from the bytes
 * before its pixel data (`head` may be the first few kilobytes of the file: parsing stops at the
 * Pixel Data tag). `complete` says whether `head` is the whole file: only then can a missing
 * Pixel Data element mean "no pixels". Returns null when `head` is too short to reach the pixel
 * data (read more), throws {@link DicomError} when the bytes are not readable DICOM.
 */
export function readDicomHeader(head: Uint8Array, complete: boolean): DicomHeader | null {
  if (!isDicom(head)) {
    throw new DicomError('not a DICOM Part 10 file ("DICM" expected at byte 128)');
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(head, { untilTag: "x7fe00010" });
  } catch (err) {
    if (!complete) return null;
    const msg = typeof err === "string"
      ? err
      : (err as { exception?: string }).exception ?? (err as Error).message ?? String(err);
    throw new DicomError(`not a readable DICOM file (${msg})`);
  }
  const hasPixels = ds.elements.x7fe00010 !== undefined;
  if (!hasPixels && !complete) return null;
  return {
    hasPixels,
    frames: ds.intString("x00280008") ?? 1,
    viewPosition: str(ds, "x00185101")?.toUpperCase() ?? null,
    patientId: str(ds, "x00100020"),
    sopInstanceUid: str(ds, "x00080018"),
    modality: str(ds, "x00080060"),
    bodyPart: str(ds, "x00180015"),
    patientAge: str(ds, "x00101010"),
  };
}
