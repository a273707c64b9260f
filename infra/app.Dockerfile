# API and worker image for docker-compose.yml (hosts with a registry). The worker drives the host's
# Docker engine through its socket; runsc must be registered there (infra/host/ensure-host.sh).
FROM node:20-bookworm-slim
RUN npm install -g pnpm@10
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile
# The playground page the API serves at / (built, not in git).
RUN pnpm --filter @sbx/playground build
