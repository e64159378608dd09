# hris-ingest: the SFTP drop poller, its alerts and /healthz + /metrics.
# Build:  docker build -t hris-ingest .
# Run:    docker run --env-file .env -p 8080:8080 hris-ingest
# test/docker.build.test.ts follows this file's COPY/RUN steps on a clean copy of the repo.

# ---- build: full dependencies, compile TypeScript ------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only ----------------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime ---------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HRIS_CONFIG_DIR=/app/config \
    HRIS_DATA_DIR=/app/data \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY fixtures ./fixtures
RUN chmod 0755 /app/dist/src/cli.js && ln -s /app/dist/src/cli.js /usr/local/bin/hris-ingest && mkdir -p /app/data && chown node:node /app/data
# The image's own unprivileged user (uid 1000); only /app/data is writable.
USER node
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["hris-ingest", "health"]
CMD ["hris-ingest", "start"]
