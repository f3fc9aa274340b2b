// scripts/browser-proxy.mjs — the HTTP proxy the browser tests' Chromium talks through.
//
// Why: wasm-bindgen-test-runner serves the test page with tiny_http, whose connection pool can
// leave a freshly accepted connection queued behind keep-alive connections that never end (two
// connections accepted while one worker is waking: the second wakeup is lost). Chromium keeps
// its connections open, so the page waits for that one module (a snippet, the wasm) until
// chromedriver gives up ("Timed out receiving message from renderer"). Through this proxy every
// request reaches the runner on its own connection with `Connection: close`, so each of the
// runner's workers is free again as soon as it has answered.
//
// Loopback only: any other destination is refused. Plain requests are forwarded one connection
// each; CONNECT (how Chromium opens a WebSocket through a proxy) is a raw tunnel. Prints
// `proxy listening on 127.0.0.1:PORT` and runs until killed.
import http from "node:http";
import net from "node:net";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function refuse(res, status, why) {
  res.writeHead(status, { "content-type": "text/plain", connection: "close" });
  res.end(why + "\n");
}

const LOG = process.env.BROWSER_PROXY_LOG ? (...a) => console.error(Date.now() % 100000, ...a) : () => {};

const server = http.createServer((req, res) => {
  LOG("req", req.method, req.url);
  res.on("finish", () => LOG("done", req.method, req.url, res.statusCode));
  let target;
  try {
    target = new URL(req.url);
  } catch {
    return refuse(res, 400, "browser-proxy: not an absolute URL");
  }
  if (target.protocol !== "http:" || !LOOPBACK.has(target.hostname)) {
    return refuse(res, 403, "browser-proxy: loopback only");
  }
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  headers.connection = "close";
  const up = http.request(
    {
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: target.port || 80,
      method: req.method,
      path: target.pathname + target.search,
      headers,
      agent: false,
    },
    (ur) => {
      const out = {};
      for (const [k, v] of Object.entries(ur.headers)) if (!HOP.has(k)) out[k] = v;
      res.writeHead(ur.statusCode, ur.statusMessage, out);
      ur.pipe(res);
    },
  );
  up.setTimeout(120_000, () => up.destroy(new Error("upstream timeout")));
  up.on("error", (e) => {
    if (!res.headersSent) refuse(res, 502, "browser-proxy: " + e.message);
    else res.destroy();
  });
  req.pipe(up);
});

server.on("connect", (req, client, head) => {
  LOG("connect", req.url);
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(req.url || "");
  if (!m || !LOOPBACK.has(m[1])) {
    client.end("HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n");
    return;
  }
  const up = net.connect(Number(m[2]), m[1].replace(/^\[|\]$/g, ""), () => {
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head && head.length) up.write(head);
    up.pipe(client);
    client.pipe(up);
  });
  const close = () => {
    up.destroy();
    client.destroy();
  };
  up.on("error", close);
  client.on("error", close);
  up.on("close", close);
  client.on("close", close);
});

server.keepAliveTimeout = 300_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`proxy listening on 127.0.0.1:${port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
