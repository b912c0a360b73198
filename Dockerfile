# syntax=docker/dockerfile:1
# bazaar-runner: the TypeScript sources are compiled to dist/ (plain JavaScript, so no
# type stripping and its WebAssembly compiler at run time); the image holds
# production dependencies and dist only.

# ---- build: compile src/ to dist/ ------------------------------------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.mjs --force

# ---- deps: production dependencies only ----------------------------------------
# devDependencies include the `node` npm package (Node 24 for dev machines); this
# image already has Node 24, so --omit=dev leaves it out with the other dev tools.
FROM node:24-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime --------------------------------------------------------------------
FROM node:24-slim AS runtime
WORKDIR /app
# HOST: in a container the port is published from outside, so bind every interface
# (the default outside a container is 127.0.0.1). Set DASHBOARD_TOKEN to guard it.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    RUNNER_STATE_DIR=/data

COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node --from=build /app/dist ./dist

# The local ledger (node:sqlite) lives in /data when MONGODB_URI is not set. Mount a
# volume there to keep it across restarts (`docker run -v bazaar-data:/data ...`).
# No VOLUME instruction: Railway's builder rejects it; attach a Railway volume at /data
# instead (Railway volumes mount as root: set RAILWAY_RUN_UID=0 or use MongoDB).
RUN mkdir -p /data && chown node:node /data

USER node
EXPOSE 8080

# slim has no curl: probe with node's own fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The bin becomes node with the runtime flags (bin/runtime-flags.js) through execve, so
# node stays PID 1 and handles SIGTERM itself (graceful drain, default 30 s): give it
# time with `docker stop -t 40`. Never start through npm, which exits at once on SIGTERM.
CMD ["node", "bin/bazaar-runner.js", "start"]
