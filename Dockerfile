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
# PowerShell 7 and the pinned MicrosoftTeams module, for the worker's `powershell` TeamsAdmin adapter
# (activities/teams-admin/powershell/). Microsoft's "installation via direct download" for Debian 12:
# the release's .deb, then apt resolves its dependencies
# (https://learn.microsoft.com/powershell/scripting/install/install-debian). The module version must match
# PINNED_TEAMS_MODULE_VERSION in activities/teams-admin/powershell/protocol.ts (a test checks it).
ARG PWSH_VERSION=7.5.0
ARG TEAMS_MODULE_VERSION=8.0.0
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates wget \
  && wget -q -O /tmp/powershell.deb "https://github.com/PowerShell/PowerShell/releases/download/v${PWSH_VERSION}/powershell_${PWSH_VERSION}-1.deb_amd64.deb" \
  && (dpkg -i /tmp/powershell.deb || apt-get install -f -y --no-install-recommends) \
  && rm /tmp/powershell.deb \
  && apt-get purge -y wget && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
  && pwsh -NoLogo -NoProfile -NonInteractive -Command "Set-PSRepository -Name PSGallery -InstallationPolicy Trusted; Install-Module MicrosoftTeams -RequiredVersion ${TEAMS_MODULE_VERSION} -Scope AllUsers -Force; Import-Module MicrosoftTeams -RequiredVersion ${TEAMS_MODULE_VERSION}"
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
