# The load-test image for sharded runs on Kubernetes (docs/DISTRIBUTED.md).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The image's own unprivileged user (uid 1000), as the Job's runAsNonRoot expects.
USER node
ENTRYPOINT ["node", "/app/dist/cli/bin.js"]
