// The peer a user would otherwise assemble: a Node BFF from express, express-session with
// connect-redis, and http-proxy-middleware, with their default settings. It keeps the Looker
// token in the Redis-backed session and adds it to each proxied call, as the bridge does.
// Benchmark use only (bench/run.py starts it); it has no sign-in flow: POST /seed makes a session.
//
// Environment: PORT, UPSTREAM_URL, REDIS_URL, REDIS_PREFIX, SESSION_SECRET, WORKERS.
import cluster from "node:cluster";
import express from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import { createProxyMiddleware } from "http-proxy-middleware";

const workers = Number(process.env.WORKERS || "1");

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  let online = 0;
  cluster.on("listening", () => {
    online += 1;
    if (online === workers) console.log("ready");
  });
  process.on("SIGTERM", () => {
    for (const id in cluster.workers) cluster.workers[id].process.kill("SIGTERM");
    process.exit(0);
  });
} else {
  startWorker();
}

function startWorker() {

  const redisClient = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379" });
  redisClient.on("error", (err) => console.error("redis:", err.message));

  const app = express();
  app.use(
    session({
      store: new RedisStore({ client: redisClient, prefix: process.env.REDIS_PREFIX || "sess:" }),
      secret: process.env.SESSION_SECRET || "bench-only-secret",
      name: "connect.sid",
      resave: false,
      saveUninitialized: false,
    }),
  );

  app.post("/seed", express.json(), (req, res) => {
    req.session.lookerToken = req.body.token;
    req.session.user = { id: "1", email: "admin@example.com" };
    res.status(204).end();
  });

  const proxy = createProxyMiddleware({
    target: process.env.UPSTREAM_URL,
    changeOrigin: true,
    pathFilter: "/api/4.0",
    on: {
      proxyReq: (proxyReq, req) => {
        proxyReq.removeHeader("cookie");
        proxyReq.setHeader("Authorization", `Bearer ${req.session.lookerToken}`);
      },
    },
  });

  app.use("/api/4.0", (req, res, next) => {
    if (!req.session || !req.session.lookerToken) {
      res.status(401).json({ error: "not_authenticated", message: "Sign in first." });
      return;
    }
    next();
  });
  app.use(proxy);

  redisClient.connect().then(() => {
    const server = app.listen(Number(process.env.PORT), "127.0.0.1", () => {
      if (!cluster.isWorker) console.log("ready");
    });
    process.on("SIGTERM", () => {
      server.close();
      redisClient.quit().finally(() => process.exit(0));
    });
  });
}
