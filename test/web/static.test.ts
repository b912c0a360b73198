import { readFile } from "node:fs/promises";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  pageCsp,
  readStaticFolder,
  SHARED_ASSETS,
  servePage,
  serveStatic,
} from "../../src/web/static.ts";

/**
 * What the dashboard and the poster page share: the folder of base styles and DOM helpers,
 * served by name only, and the page with its security headers.
 */
describe("serving a page's static files", () => {
  const app = Fastify();
  afterEach(async () => {
    await app.close();
  });

  it("serves the shared folder's modules and styles by name, and the page's own 404 for anything else", async () => {
    const shared = await readStaticFolder(SHARED_ASSETS);
    expect([...shared.keys()].sort()).toEqual(["base.css", "dom.js"]);
    serveStatic(app, {
      prefix: "/web/assets/",
      files: shared,
      notFound: (reply) => reply.code(404).send({ detail: "Not Found" }),
    });
    servePage(app, "/page", Buffer.from("<p>hi</p>"), pageCsp(false));

    const css = await app.inject({ url: "/web/assets/base.css" });
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.headers["x-content-type-options"]).toBe("nosniff");
    const js = await app.inject({ url: "/web/assets/dom.js" });
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.body).toBe(await readFile(new URL("dom.js", SHARED_ASSETS), "utf8"));
    const missing = await app.inject({ url: "/web/assets/nothing.js" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ detail: "Not Found" });
    expect((await app.inject({ url: "/web/assets/../static.ts" })).statusCode).toBe(404);

    const page = await app.inject({ url: "/page" });
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    expect(page.headers["content-security-policy"]).toContain("style-src 'self';");
    expect(pageCsp(true)).toContain("style-src 'self' 'unsafe-inline';");
  });

  it("both pages load the shared stylesheet before their own", async () => {
    for (const [html, own] of [
      ["../../src/http/dashboard/index.html", "/assets/style.css"],
      ["../../src/marketplace-server/poster/index.html", "/poster/assets/style.css"],
    ] as const) {
      const text = await readFile(new URL(html, import.meta.url), "utf8");
      const base = text.indexOf('href="/web/assets/base.css"');
      expect(base, html).toBeGreaterThan(-1);
      expect(text.indexOf(`href="${own}"`), html).toBeGreaterThan(base);
    }
  });
});
