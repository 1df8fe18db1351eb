# syntax=docker/dockerfile:1
# Petrel controller image: build the TypeScript once, ship only the compiled code and production packages.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:20-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="petrel" \
      org.opencontainers.image.description="Progressive-delivery controller for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
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
