/**
 * CPU time of the calling thread (Linux, through FFI), for benchmarks that tell the serial part of
 * a run (the main thread) from the work other threads do.
 * @module
 */

/**
 * CPU milliseconds of the calling thread alone (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)` through
 * FFI), or null where that is unavailable (not Linux, no FFI permission). With kernel threads, the
 * main thread's CPU time in a kernel is the part of it that did not run on another thread (the
 * main thread sleeps in `Atomics.wait` while the workers finish), so it shows the serial time
 * whatever else runs on the machine.
 */
export const threadCpuMs: (() => number) | null = (() => {
  if (Deno.build.os !== "linux") return null;
  try {
    const lib = Deno.dlopen("libc.so.6", {
      clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    });
    const ts = new BigInt64Array(2);
    const CLOCK_THREAD_CPUTIME_ID = 3;
    return () => {
      lib.symbols.clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts);
      return Number(ts[0]) * 1e3 + Number(ts[1]) / 1e6;
    };
  } catch {
    return null;
  }
})();
