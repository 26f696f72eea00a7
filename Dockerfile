# syntax=docker/dockerfile:1
#
# One image for every Dialtone process: the worker (default CMD), the API and the tenant simulator.
# docker-compose.yml picks the process per service with `command`.
#
# Debian (glibc), not Alpine: @temporalio/worker loads a prebuilt native core-bridge built for glibc.
# There is no build step: tsx (a runtime dependency) runs the TypeScript sources as they are.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Exactly what the lockfile pins, without devDependencies. The image's npm (10) ignores the
# `allowScripts` field meant for npm 11 and runs install scripts as before, which the packages listed
# there (esbuild, @swc/core, protobufjs) rely on.
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY lib ./lib
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY simulator ./simulator
COPY cli ./cli
# Writable state for the unprivileged user: .data/ (the processes' default data folder) and the
# simulator's TLS folder. A named volume mounted on the latter starts out with this ownership.
RUN mkdir -p /app/.data /var/lib/dialtone/simulator-tls \
  && chown -R node:node /app/.data /var/lib/dialtone
USER node

# `tsx <file>` is what `npx tsx <file>` resolves to, without an npm process in between.
CMD ["tsx", "worker/main.ts"]
