/**
 * The pixel side of `dicom.ts`: stored values (bits stored, high bit, sign, byte order), the
 * Modality LUT, the VOI step (LUT, window or range), MONOCHROME1 inversion, and native colour.
 * Private to `dicom.ts`, which re-exports what callers need.
 * @module
 */
import type { DataSet, Element } from "dicom-parser";

/** Explicit VR big endian: the one transfer syntax whose pixel bytes are big-endian. */
const EXPLICIT_BE = "1.2.840.10008.1.2.2";

/** A DICOM file that cannot be shown as one radiograph; `reason` says why (no file name). */
export class DicomError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "DicomError";
  }
}

/** What the rendering used and what the out-of-scope checks read. */
export interface DicomInfo {
  rows: number;
  columns: number;
  transferSyntax: string;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** How values were mapped to 0-255. */
  voi: "lut" | "window" | "range";
  window: { center: number; width: number; fn: string } | null;
  /** Height / width of one pixel; 1 for square pixels. */
  pixelAspect: number;
  modality: string | null;
  bodyPart: string | null;
  viewPosition: string | null;
  /** Patient's Age as stored ("004Y"), or null. */
  patientAge: string | null;
  sopClassUid: string | null;
}

/** A US element (or SS, by its VR), or `fallback`. */
export function us(ds: DataSet, tag: string, fallback: number): number {
  const v = ds.uint16(tag);
  return v === undefined ? fallback : v;
}

/** Stored values of a native (uncompressed) monochrome frame, masked and sign-extended. */
export function storedValues(
  ds: DataSet,
  el: Element,
  info: DicomInfo,
  samples: number,
): Float64Array {
  const n = info.rows * info.columns * samples;
  const { bitsAllocated: ba, bitsStored: bs } = info;
  if (![8, 16, 32].includes(ba)) {
    throw new DicomError(`Bits Allocated ${ba} is not supported; expected 8, 16 or 32`);
  }
  const bytesPer = ba / 8;
  if (el.length < n * bytesPer) {
    throw new DicomError(
      `Pixel Data holds ${el.length} bytes, expected ${n * bytesPer} for ${info.columns}x` +
        `${info.rows}x${samples} at ${ba} bits (truncated file?)`,
    );
  }
  const view = new DataView(
    ds.byteArray.buffer,
    ds.byteArray.byteOffset + el.dataOffset,
    n * bytesPer,
  );
  const little = info.transferSyntax !== EXPLICIT_BE;
  const highBit = us(ds, "x00280102", bs - 1);
  const shift = Math.max(0, highBit + 1 - bs);
  const out = new Float64Array(n);
  const mask = bs >= 32 ? 0xffffffff : 2 ** bs - 1;
  for (let i = 0; i < n; i++) {
    const raw = ba === 8
      ? view.getUint8(i)
      : ba === 16
      ? view.getUint16(i * 2, little)
      : view.getUint32(i * 4, little);
    let v = Math.floor(raw / 2 ** shift) % (mask + 1);
    if (info.signed && v >= 2 ** (bs - 1)) v -= 2 ** bs;
    out[i] = v;
  }
  return out;
}

/** The VOI LUT of the first VOI LUT Sequence item: first mapped value, bits, entries. */
function voiLut(ds: DataSet): { first: number; bits: number; data: Uint32Array } {
  const item = ds.elements.x00283010!.items![0].dataSet!;
  const desc = item.elements.x00283002;
  const lutData = item.elements.x00283006;
  if (!desc || !lutData) {
    throw new DicomError("VOI LUT Sequence item lacks LUT Descriptor (0028,3002) or LUT Data");
  }
  const count = item.uint16("x00283002", 0) || 65536;
  // The first mapped value is US or SS, following the pixel values' representation.
  const first = desc.vr === "SS" || us(ds, "x00280103", 0) === 1
    ? item.int16("x00283002", 1)!
    : item.uint16("x00283002", 1)!;
  const bits = item.uint16("x00283002", 2)!;
  const data = new Uint32Array(count);
  const wide = lutData.length >= count * 2;
  for (let i = 0; i < count; i++) {
    data[i] = wide ? item.uint16("x00283006", i)! : item.byteArray[lutData.dataOffset + i];
  }
  return { first, bits, data };
}

/** Maps modality values to 0-255 with the VOI step (see the module doc). */
function applyVoi(ds: DataSet, info: DicomInfo, m: Float64Array): Uint8Array {
  const out = new Uint8Array(m.length);
  if (info.voi === "lut") {
    const { first, bits, data } = voiLut(ds);
    const top = 2 ** bits - 1, last = data.length - 1;
    for (let i = 0; i < m.length; i++) {
      const k = Math.min(last, Math.max(0, Math.round(m[i]) - first));
      out[i] = Math.round((Math.min(top, data[k]) * 255) / top);
    }
    return out;
  }
  if (info.voi === "window") {
    const { center: c, width: w, fn } = info.window!;
    for (let i = 0; i < m.length; i++) {
      const x = m[i];
      let y: number;
      if (fn === "SIGMOID") y = 255 / (1 + Math.exp(-4 * (x - c) / w));
      else if (fn === "LINEAR_EXACT") {
        y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 255 : ((x - c) / w + 0.5) * 255;
      } else if (w < 1) y = x <= c - 0.5 ? 0 : 255;
      else {
        y = x <= c - 0.5 - (w - 1) / 2
          ? 0
          : x > c - 0.5 + (w - 1) / 2
          ? 255
          : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
      }
      out[i] = Math.min(255, Math.max(0, Math.round(y)));
    }
    return out;
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of m) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  for (let i = 0; i < m.length; i++) out[i] = span > 0 ? Math.round(((m[i] - lo) * 255) / span) : 0;
  return out;
}

/** Monochrome stored values -> displayed 8-bit gray (modality, VOI, MONOCHROME1 inversion). */
export function renderGray(ds: DataSet, info: DicomInfo, stored: Float64Array): Uint8Array {
  const m = new Float64Array(stored.length);
  for (let i = 0; i < m.length; i++) m[i] = stored[i] * info.rescaleSlope + info.rescaleIntercept;
  const out = applyVoi(ds, info, m);
  if (info.photometric === "MONOCHROME1") {
    for (let i = 0; i < out.length; i++) out[i] = 255 - out[i];
  }
  return out;
}

/** Native colour (RGB or YBR_FULL, 8 bits) as interleaved RGB. */
export function renderColour(ds: DataSet, el: Element, info: DicomInfo): Uint8Array {
  if (info.bitsAllocated !== 8) {
    throw new DicomError(
      `colour DICOM with ${info.bitsAllocated} bits is not supported; expected 8`,
    );
  }
  const n = info.rows * info.columns;
  if (el.length < n * 3) {
    throw new DicomError(
      `Pixel Data holds ${el.length} bytes, expected ${n * 3} (truncated file?)`,
    );
  }
  const src = ds.byteArray.subarray(el.dataOffset, el.dataOffset + n * 3);
  const planar = us(ds, "x00280006", 0) === 1;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = planar ? src[i] : src[i * 3];
    const b = planar ? src[n + i] : src[i * 3 + 1];
    const c = planar ? src[2 * n + i] : src[i * 3 + 2];
    if (info.photometric === "YBR_FULL") {
      const clamp = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
      out[i * 3] = clamp(a + 1.402 * (c - 128));
      out[i * 3 + 1] = clamp(a - 0.344136 * (b - 128) - 0.714136 * (c - 128));
      out[i * 3 + 2] = clamp(a + 1.772 * (b - 128));
    } else out.set([a, b, c], i * 3);
  }
  return out;
}
