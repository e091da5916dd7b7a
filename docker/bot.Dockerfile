# The bot: Bolt app + watcher + deploy control in one Node process.
# Containers cannot reach a registry here, so nothing is installed inside the image: scripts/stack.sh
# stages dist/ and the production node_modules on the host in .build/bot, and this copies them.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY .build/bot/ /app/
COPY docker/bluegreen /usr/local/bin/bluegreen
# Not root: the bot holds no Docker socket (docker-filter does) and needs no privilege. node (uid
# 1000, in both the official node image and the offline stand-in) owns the state folders, so a new
# named volume mounted there starts out the bot's; nginx's entrypoint gives it the shared one.
RUN mkdir -p /var/lib/bluegreen/state /var/lib/bluegreen/nginx && chown -R 1000:1000 /var/lib/bluegreen
USER 1000:1000
EXPOSE 3000
CMD ["node", "/app/dist/main.js"]
