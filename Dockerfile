# syntax=docker/dockerfile:1
#
# Warden container image.
#
#   docker build -t warden .
#   docker run -p 3000:3000 -v warden-data:/data \
#     -e WARDEN_ENCRYPTION_KEY="$(openssl rand -base64 32)" -e WARDEN_ADMIN_PASSWORD=… warden
#
# Without DATABASE_URL the service keeps SQLite in /data; docker-compose.yml shows the scaled
# shape (PostgreSQL, Redis, two instances behind nginx).

# ---- build: compile TypeScript, then drop the dev dependencies ----------------------------------
FROM node:20-bookworm-slim AS build

# Native modules (argon2, better-sqlite3) fall back to node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# @scarf/scarf (pulled in by swagger-ui-dist) phones home from its install script; the npm in this
# image ignores package.json's "allowScripts", so switch it off here.
ENV SCARF_ANALYTICS=false

COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY console ./console
# The service and the operator console (dist/console-ui), from the installed packages.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime

ENV NODE_ENV=production \
    PORT=3000 \
    WARDEN_DATA_DIR=/data

WORKDIR /app
# Owned by root and read-only for the service user; only /data is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]

USER node
EXPOSE 3000

# The image has no curl: ask Node itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

CMD ["node", "dist/main.js"]
