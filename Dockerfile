# syntax=docker/dockerfile:1
# genai-ledger: the collector (OTLP/HTTP in, priced usage rows into ClickHouse) and the CLI.
#
#   docker build -t genai-ledger:0.1.0 .
#   docker run -p 4318:4318 -e CLICKHOUSE_URL=http://user:pass@clickhouse:8123/genai_ledger genai-ledger:0.1.0
#   docker run --rm genai-ledger:0.1.0 prices gpt-4o          # any other command
#
# Pin NODE_IMAGE to a digest (node:20-slim@sha256:...) for byte-for-byte reproducible builds.
ARG NODE_IMAGE=node:20-slim

# ---- build: full dependency tree, TypeScript → dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are here (the build runs below), and no
# runtime dependency needs an install script (chdb's is a no-op; its engine is a prebuilt package).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json index.ts ./
COPY usage ./usage
COPY pricing ./pricing
COPY delivery ./delivery
COPY exporter ./exporter
COPY collector ./collector
COPY clickhouse ./clickhouse
COPY instrumentation ./instrumentation
COPY cli ./cli
COPY demo ./demo
RUN npm run build

# ---- deps: runtime dependencies only, plus the packages the library leaves optional (devDependencies
# here) that the image's commands use: the embedded engine (the default store, with its platform
# package) and the demo's openai + instrumentation, at this repository's versions.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm install --no-save --save-prod --omit=dev --no-audit --no-fund --ignore-scripts \
      $(node -p "process.argv.slice(1).map((p) => p + '@' + require('./package.json').devDependencies[p]).join(' ')" \
        chdb openai @opentelemetry/instrumentation-openai) \
 && npm cache clean --force

# ---- runtime: no compiler, no dev dependencies, not root
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GENAI_LEDGER_HOST=0.0.0.0 \
    GENAI_LEDGER_PORT=4318
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY clickhouse/migrations ./clickhouse/migrations
# An embedded store (no CLICKHOUSE_URL) lives here, and the spool of a collector writing to a
# ClickHouse server in /var/lib/genai-ledger/spool; mount volumes on them to keep them.
RUN mkdir -p /app/.genai-ledger /var/lib/genai-ledger/spool && chown -R node:node /app/.genai-ledger /var/lib/genai-ledger
USER node
EXPOSE 4318
# node:20-slim has neither curl nor wget: ask with node's own fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.GENAI_LEDGER_PORT||4318)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/genai-ledger.js"]
CMD ["collect"]
