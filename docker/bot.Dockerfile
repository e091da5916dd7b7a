# The bot: Bolt app + watcher + deploy control in one Node process.
# Containers cannot reach a registry here, so nothing is installed inside the image: scripts/stack.sh
# stages dist/ and the production node_modules on the host in .build/bot, and this copies them.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY .build/bot/ /app/
COPY docker/bluegreen /usr/local/bin/bluegreen
EXPOSE 3000
CMD ["node", "/app/dist/main.js"]
