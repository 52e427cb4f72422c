/** Whether `jupyter` is installed with the Deno kernel (the report tests need both). */
export async function hasDenoKernel(): Promise<boolean> {
  try {
    const out = await new Deno.Command("jupyter", {
      args: ["kernelspec", "list"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success && /^\s*deno\s/m.test(new TextDecoder().decode(out.stdout));
  } catch {
    return false;
  }
}
