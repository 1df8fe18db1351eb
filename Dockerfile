# syntax=docker/dockerfile:1
# Petrel controller image: build the TypeScript once, ship only the compiled code and production packages.

# Node 24, the current LTS. Pinned to an exact release; the release pipeline pins the digest too
# (docker buildx imagetools inspect node:24.22.3-bookworm-slim, then
# --build-arg NODE_IMAGE=node:24.22.3-bookworm-slim@sha256:<index digest>), since no digest is written
# here that was not read from the registry. The CLI and controller tests run on this Node release in
# .ci/run.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="petrel" \
      org.opencontainers.image.description="Progressive-delivery controller for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
# The controller never installs anything at run time: npm, npx and corepack (and the packages they
# would pull in) are left out, and with them their own CVEs.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
  /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production \
    PETREL_USE_DIST=1
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY crds ./crds
# A numeric user so Kubernetes can check runAsNonRoot; the chart runs with the same uid and a read-only root.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["node", "bin/petrel.js"]
CMD ["controller", "--in-cluster"]
