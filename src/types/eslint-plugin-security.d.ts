// eslint-plugin-security ships no types; this is the part the code reviewer uses.
declare module "eslint-plugin-security" {
  const plugin: {
    meta?: { name?: string; version?: string };
    rules: Record<string, unknown>;
    configs: { recommended: { rules: Record<string, "error" | "warn" | "off"> } };
  };
  export default plugin;
}
