# The infergate control plane image (the chart's controlPlane.image). Build from the repository root:
#   docker build -t ghcr.io/infergate/controlplane:0.1.0 .
# (No docker engine runs where this repository is tested, so this file is not built by `make test`.)
#
# Stage 1 transpiles controlplane/ to build/js with the repository's own build script; stage 2 keeps
# only the production dependencies (npm ci --omit=dev) and the transpiled control plane.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY scripts/build-ts.mjs scripts/build-ts.mjs
COPY controlplane controlplane
RUN node scripts/build-ts.mjs

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force
COPY --from=build /src/build/js/controlplane ./build/js/controlplane
# uid 1000 ("node" in the base image): the chart runs it as non-root with a read-only root filesystem.
USER 1000:1000
EXPOSE 9090
ENTRYPOINT ["node", "/app/build/js/controlplane/main.js"]
