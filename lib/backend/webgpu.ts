/**
 * The WebGPU backend (`@tensorflow/tfjs-backend-webgpu`) on Deno's built-in `navigator.gpu`.
 *
 * {@link probeWebGpu} asks for an adapter and describes it; {@link initWebGpu} makes `webgpu` the
 * active TF.js backend, but refuses a software adapter (Mesa's lavapipe/llvmpipe, SwiftShader,
 * Microsoft's WARP, or any adapter that says `isFallbackAdapter`) unless `allowSoftware` is set:
 * those run the shaders on the CPU, slower than this project's wasm path, and are useful only to
 * check correctness. `initBackend()` (select.ts) passes `allowSoftware` when webgpu is forced
 * (`XRAY_BACKEND=webgpu`).
 *
 * On Linux without a GPU, Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`) is such an
 * adapter; `DENO_WEBGPU_BACKEND=vulkan` makes Deno use Vulkan only. On an NVIDIA machine the
 * driver's Vulkan part is enough (in containers `NVIDIA_DRIVER_CAPABILITIES` must include
 * `graphics`).
 *
 * @example
 * ```ts
 * import { probeWebGpu } from "./lib/backend/webgpu.ts";
 * const probe = await probeWebGpu();
 * console.log(probe.adapter?.description ?? probe.reason);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** What the adapter says about itself (`GPUAdapter.info`), plus whether it renders in software. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  /** The driver's description of the adapter: Mesa's software renderer or a GPU's product name. */
  description: string;
  /** `GPUAdapterInfo.isFallbackAdapter` (or the older `GPUAdapter.isFallbackAdapter`). */
  isFallbackAdapter: boolean;
  /** True for a fallback adapter or a known CPU renderer (see {@link softwareRenderer}). */
  software: boolean;
}

/** Result of {@link probeWebGpu}: the adapter, or null and why there is none. */
export interface WebGpuProbe {
  adapter: AdapterSummary | null;
  /** Why WebGPU cannot be used at all (no `navigator.gpu`, no adapter), else null. */
  reason: string | null;
}

/** Names of CPU renderers that may not set `isFallbackAdapter`. */
const SOFTWARE_RENDERERS =
  /llvmpipe|lavapipe|softpipe|swiftshader|\bwarp\b|microsoft basic render/i;

/** The CPU renderer an adapter's vendor/architecture/device/description names, else null. */
export function softwareRenderer(info: Partial<Omit<AdapterSummary, "software">>): string | null {
  const text = [info.description, info.device, info.architecture, info.vendor]
    .filter((s) => typeof s === "string" && s !== "").join(" ");
  return SOFTWARE_RENDERERS.exec(text)?.[0].toLowerCase() ??
    (info.isFallbackAdapter ? "fallback adapter" : null);
}

/** Builds an {@link AdapterSummary} from `GPUAdapter.info` (any missing field is ""). */
export function summariseAdapter(
  info: Partial<Record<"vendor" | "architecture" | "device" | "description", string>> & {
    isFallbackAdapter?: boolean;
  },
  adapterIsFallback = false,
): AdapterSummary {
  const s = {
    vendor: String(info.vendor ?? ""),
    architecture: String(info.architecture ?? ""),
    device: String(info.device ?? ""),
    description: String(info.description ?? ""),
    isFallbackAdapter: info.isFallbackAdapter === true || adapterIsFallback,
  };
  return { ...s, software: softwareRenderer(s) !== null };
}

/** One line naming the adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) [software]`. */
export function describeAdapter(a: AdapterSummary): string {
  const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(" ") ||
    "unnamed adapter";
  return `${name}${a.software ? " [software]" : ""}`;
}

/** Why a software adapter is skipped by automatic selection. */
export function softwareSkipReason(a: AdapterSummary): string {
  return `the WebGPU adapter is ${describeAdapter(a)}, a software (CPU) renderer ` +
    `(${softwareRenderer(a)}): slower than wasm, used only when forced with XRAY_BACKEND=webgpu`;
}

/**
 * Requests an adapter with `fn`. Mesa's Wayland probe prints "XDG_RUNTIME_DIR is invalid or not
 * set" on stderr when that variable is unset (containers, CI); it is set to the temp folder for
 * the first request only, and removed again, so that nothing else sees it.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  let set = false;
  try {
    if (Deno.build.os === "linux" && Deno.env.get("XDG_RUNTIME_DIR") === undefined) {
      Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
      set = true;
    }
  } catch { /* no --allow-env: the message is harmless */ }
  try {
    return await fn();
  } finally {
    if (set) Deno.env.delete("XDG_RUNTIME_DIR");
  }
}

/**
 * The device files through which Linux reaches a hardware GPU: `/dev/dri/renderD*` (Mesa and
 * most drivers), `/dev/nvidia0..` (NVIDIA's driver), `/dev/dxg` (WSL 2). An empty list means only
 * a software adapter (lavapipe) can exist; null when this cannot be told (not Linux, or no read
 * permission on /dev).
 */
export function gpuDeviceNodes(): string[] | null {
  if (Deno.build.os !== "linux") return null;
  const list = (dir: string, re: RegExp) => {
    try {
      return [...Deno.readDirSync(dir)].filter((e) => re.test(e.name)).map((e) =>
        `${dir}/${e.name}`
      );
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
  };
  try {
    return [...list("/dev/dri", /^renderD\d+$/), ...list("/dev", /^(nvidia\d+|dxg)$/)];
  } catch {
    return null;
  }
}

/**
 * Why automatic selection does not ask for a WebGPU adapter on a Linux machine without a GPU
 * device file. Asking creates a WebGPU instance, which loads Mesa's lavapipe (LLVM) into the
 * process; an instance made in a runtime off the main thread (each file of `deno test` runs in
 * one, as does a Worker) crashes the process at exit in a few runs out of a hundred
 * ("double free or corruption", "corrupted size vs. prev_size", segmentation faults). The only
 * adapter such a machine has is a software one, which automatic selection skips anyway.
 */
export function noGpuDeviceReason(): string {
  return "no GPU device on this machine (no /dev/dri/renderD*, /dev/nvidia*, /dev/dxg): its only " +
    "WebGPU adapter would be a software (CPU) renderer, slower than wasm and used only when " +
    "forced with XRAY_BACKEND=webgpu";
}

/** Asks `navigator.gpu` for a high-performance adapter and describes it. Never throws. */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { adapter: null, reason: "this runtime has no navigator.gpu (WebGPU)" };
  let adapter: GPUAdapter | null;
  try {
    adapter = await quietly(() => gpu.requestAdapter({ powerPreference: "high-performance" }));
  } catch (err) {
    return { adapter: null, reason: `navigator.gpu.requestAdapter() failed: ${msg(err)}` };
  }
  if (!adapter) {
    return {
      adapter: null,
      reason: "no WebGPU adapter (navigator.gpu.requestAdapter() returned null: no GPU driver " +
        "with Vulkan, Metal or DX12 support; on Linux without a GPU, mesa-vulkan-drivers gives " +
        "a software one)",
    };
  }
  const info = (adapter as unknown as { info?: Parameters<typeof summariseAdapter>[0] }).info;
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return { adapter: summariseAdapter(info ?? {}, legacy === true), reason: null };
}

function msg(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

/** The adapter of the active webgpu backend, once {@link initWebGpu} has succeeded. */
let activeAdapter: AdapterSummary | null = null;

/** The adapter {@link initWebGpu} selected, or null before that. */
export function webGpuAdapter(): AdapterSummary | null {
  return activeAdapter;
}

/**
 * Makes `webgpu` the active TF.js backend. Throws an error whose message is the reason when there
 * is no adapter, or when the adapter is a software renderer and `allowSoftware` is false.
 * `@tensorflow/tfjs-backend-webgpu` is imported only here: importing it registers a `webgpu`
 * backend factory with a higher priority than wasm and cpu.
 */
export async function initWebGpu(opts: { allowSoftware: boolean }): Promise<AdapterSummary> {
  const probe = await probeWebGpu();
  if (!probe.adapter) throw new Error(probe.reason ?? "no WebGPU adapter");
  if (probe.adapter.software && !opts.allowSoftware) {
    throw new Error(softwareSkipReason(probe.adapter));
  }
  if (tf.getBackend() !== "webgpu") {
    await import("@tensorflow/tfjs-backend-webgpu");
    if (!(await quietly(() => tf.setBackend("webgpu")))) {
      throw new Error(
        `the webgpu backend did not initialise on ${describeAdapter(probe.adapter)}`,
      );
    }
  }
  activeAdapter = probe.adapter;
  return probe.adapter;
}
