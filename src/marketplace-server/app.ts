import multipart from "@fastify/multipart";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { frameworkLogger, type Logger, silentLogger } from "../logger.ts";
import { AutoAwarder } from "./auto-award.ts";
import { ApiError, RequestValidationError } from "./errors.ts";
import { FaultInjector, type FaultRules } from "./faults.ts";
import { JobFiles, MAX_FILE_BYTES, registerFileRoutes } from "./files.ts";
import { registerMoneyRoutes } from "./money-routes.ts";
import { registerRoutes } from "./routes.ts";
import { MarketplaceRules } from "./rules.ts";
import { MarketplaceStore } from "./store.ts";
import { WebhookSender } from "./webhooks.ts";

export interface MarketplaceServerOptions {
  /** SQLite file of the marketplace; `:memory:` for a throwaway one. */
  dbPath: string;
  /** Seconds between two registrations of one owner (the real service: 10). Default 0. */
  registrationCooldownSeconds?: number;
  /** Award each job this many seconds after its first bid (best confidence/price). Off by default. */
  autoAwardSeconds?: number;
  logger?: Logger;
  /** Clock of the marketplace's rules (times written, deadlines, cooldowns). */
  now?: () => Date;
  /** Fault injection for tests and the soak bench (see faults.ts). */
  faults?: FaultRules | null;
  /** Timeout of one webhook delivery (the real service: 10 s). */
  webhookTimeoutMs?: number;
}

export interface MarketplaceApp {
  app: FastifyInstance;
  store: MarketplaceStore;
  setFaults(f: FaultRules | null): void;
  close(): Promise<void>;
}

const BODY_LIMIT = 16 * 1024 * 1024;

/** Per-request lines at debug level only, so a runner sharing the logger stays readable. */
class DebugRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, "marketplace request");
  }

  override requestCompleted(
    _err: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    reply.log.debug(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "marketplace response",
    );
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, "marketplace route not found");
  }
}

/** Builds the embedded AgentBazaar marketplace (not listening; see startMarketplace). */
export async function createMarketplaceApp(
  options: MarketplaceServerOptions,
): Promise<MarketplaceApp> {
  const log = (options.logger ?? silentLogger()).child({ component: "marketplace" });
  const now = options.now ?? (() => new Date());
  const store = new MarketplaceStore(options.dbPath);
  let awarder: AutoAwarder | null = null;
  const webhooks = new WebhookSender(log, options.webhookTimeoutMs);
  const rules = new MarketplaceRules(store, {
    registrationCooldownSeconds: options.registrationCooldownSeconds ?? 0,
    now,
    onFirstBid: (jobId, at) => awarder?.schedule(jobId, at),
    onJobPosted: (job, matched) => webhooks.notify("job.posted", job, matched),
    onBidSelected: (job, winner) => {
      webhooks.notify("job.assigned", job, [winner]);
      webhooks.notify("bid.selected", job, [winner]);
    },
  });
  const autoAward = options.autoAwardSeconds ?? 0;
  if (autoAward > 0) awarder = new AutoAwarder(rules, autoAward, log, now);

  const app = Fastify({
    loggerInstance: frameworkLogger(log) as FastifyBaseLogger,
    logController: new DebugRequestLog(),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: BODY_LIMIT,
  });

  // Bodies are kept as text and parsed by the route that wants one (as FastAPI does):
  // a route without a body ignores whatever is sent, and bad JSON is a 422, not a 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

  const faults = new FaultInjector(options.faults ?? null);
  faults.install(app);

  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ detail: "Not Found" }));
  app.setErrorHandler((err: Error, request, reply) => {
    if (err instanceof RequestValidationError) return reply.code(422).send({ detail: err.detail });
    if (err instanceof ApiError) {
      return reply.code(err.statusCode).headers(err.headers).send({ detail: err.message });
    }
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      // Framework errors (body too large, bad URL): keep their status, FastAPI's shape.
      return reply.code(status).send({ detail: err.message });
    }
    request.log.error(
      { err, method: request.method, url: request.url },
      "marketplace handler failed",
    );
    return reply.code(500).type("text/plain; charset=utf-8").send("Internal Server Error");
  });

  registerMoneyRoutes(app, store, now);
  registerRoutes(app, rules);
  // Job files are multipart uploads: the one content type parsed by a plugin.
  await app.register(multipart, { limits: { fileSize: MAX_FILE_BYTES, files: 1 } });
  registerFileRoutes(app, new JobFiles(store, now));
  awarder?.rearm();

  let closed = false;
  return {
    app,
    store,
    setFaults: (f) => faults.set(f),
    async close() {
      if (closed) return;
      closed = true;
      awarder?.close();
      await webhooks.close();
      try {
        await app.close();
      } finally {
        store.close();
      }
    },
  };
}
