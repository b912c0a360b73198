import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BazaarRunnerError, InvalidArgumentError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { errorMessage } from "../secrets.ts";
import { registerBuiltinExecutors } from "./builtin.ts";
import { type ExecutorRegistry, executorRegistry, registeredTypes } from "./registry.ts";

/** A plugin module that could not be loaded; the message names it and says why. */
export class PluginLoadError extends BazaarRunnerError {
  override name = "PluginLoadError";
  readonly specifier: string;
  constructor(specifier: string, reason: string, options?: { cause?: unknown }) {
    super(
      "BR_ERR_PLUGIN_LOAD",
      `AGENT_PLUGINS: cannot load plugin "${specifier}": ${reason}`,
      options,
    );
    this.specifier = specifier;
  }
}

export interface LoadPluginsOptions {
  /** Relative paths (and bare names, first) are resolved from here. */
  cwd: string;
  logger: Logger;
}

function looksLikePath(specifier: string, cwd: string): boolean {
  return (
    specifier.startsWith(".") ||
    isAbsolute(specifier) ||
    /\.[cm]?[jt]s$/.test(specifier) ||
    existsSync(resolve(cwd, specifier))
  );
}

/**
 * What to hand to `import()`: a file URL for paths (relative ones against `cwd`), a
 * `file:` URL as given, and for a package name the copy installed under `cwd` when
 * there is one, else the name itself (resolved from the runner's own node_modules).
 */
function resolveSpecifier(specifier: string, cwd: string): string {
  if (specifier.startsWith("file:")) return specifier;
  if (looksLikePath(specifier, cwd)) {
    const path = resolve(cwd, specifier);
    if (!existsSync(path)) throw new PluginLoadError(specifier, `no such file ${path}`);
    return pathToFileURL(path).href;
  }
  try {
    return pathToFileURL(createRequire(join(cwd, "noop.js")).resolve(specifier)).href;
  } catch {
    return specifier;
  }
}

/** A plugin module's optional entry point, called once with the registry after import. */
export type RegisterPlugin = (registry: ExecutorRegistry) => void | Promise<void>;

/**
 * Imports each plugin module and, when it exports `register(registry)`, calls it; a
 * module may instead call `registerExecutor` as it is imported (both work, and a module
 * may do both). The first module that fails stops the load with a PluginLoadError
 * naming it; start-up should print that one line and exit.
 */
export async function loadPlugins(
  specifiers: readonly string[],
  options: LoadPluginsOptions,
): Promise<void> {
  const wanted = [...new Set(specifiers.map((s) => s.trim()).filter((s) => s.length > 0))];
  for (const specifier of wanted) {
    const target = resolveSpecifier(specifier, options.cwd);
    const before = new Set(registeredTypes());
    try {
      const module: { register?: unknown } = await import(target);
      if (module.register !== undefined) {
        if (typeof module.register !== "function") {
          throw new InvalidArgumentError(
            `its export "register" is a ${typeof module.register}, not a function`,
          );
        }
        await (module.register as RegisterPlugin)(executorRegistry);
      }
    } catch (error) {
      throw new PluginLoadError(specifier, errorMessage(error), { cause: error });
    }
    const added = registeredTypes().filter((type) => !before.has(type));
    if (added.length === 0) {
      options.logger.warn(
        { plugin: specifier },
        "plugin loaded; it added no new agent type (it may have replaced one)",
      );
    } else {
      options.logger.info({ plugin: specifier, agentTypes: added }, "plugin loaded");
    }
  }
}

/**
 * Everything that can run an agent, as `start` and `agents list` need it: the built-in
 * executors, then those the AGENT_PLUGINS modules register.
 */
export async function registerAllExecutors(
  specifiers: readonly string[],
  options: LoadPluginsOptions,
): Promise<void> {
  registerBuiltinExecutors();
  await loadPlugins(specifiers, options);
}
