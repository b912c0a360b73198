/**
 * Reads `.env` from the working directory when present; variables already set win.
 * Returns the names the file set, so the start log can say where settings came from.
 */
export function loadDotEnv(path = ".env"): string[] {
  const before = new Set(Object.keys(process.env));
  try {
    process.loadEnvFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return Object.keys(process.env).filter((name) => !before.has(name));
}
