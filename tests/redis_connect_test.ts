// Connecting to Redis: URLs, passwords, TLS, and bad input (unreachable
// ports, servers that are not Redis, malformed URLs). Each failure must be a
// clear error, quickly, never a hang.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { Redis } from "ioredis";
import { BackendError, StateManager, ValidationError } from "../mod.ts";
import { RedisBackend } from "../backends/redis.ts";
import { freePort, skipUnavailable, startRedisServer } from "./_redis_server.ts";
import { removeDir, runCommand, tempDir } from "./_runtime.ts";

// Bad input and unreachable servers: each a clear error, fast, never a hang.
const within = async (ms: number, fn: () => Promise<unknown>) => {
  const start = Date.now();
  await fn();
  const took = Date.now() - start;
  assert.ok(took < ms, `took ${took} ms, expected under ${ms} ms`);
};

const rejectsBackend = (p: Promise<unknown>, transient: boolean, re: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BackendError, String(e));
    assert.equal(e.transient, transient, e.message);
    assert.match(e.message, re);
    return true;
  });

test("redis: refuses malformed URLs without showing the password", async () => {
  for (
    const url of [
      "http://127.0.0.1:6379",
      "redis://:hunter2@127.0.0.1:99999",
      "redis://:hunter2@127.0.0.1:6379/abc",
      "not a url",
      "redis://:hunter2@/0",
      "redis://127.0.0.1:6379?db=2",
    ]
  ) {
    await assert.rejects(StateManager.open({ backend: "redis", url }), (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    }, url);
  }
  assert.throws(() => new RedisBackend({ prefix: "a{b}" }), ValidationError);
  assert.throws(() => new RedisBackend({ client: {} as never }), ValidationError);
  assert.throws(() => new RedisBackend({ cluster: "yes" as never }), ValidationError);
  assert.throws(() => new RedisBackend({ redisOptions: [] as never }), ValidationError);
});

test("redis: a port with nothing listening fails fast as transient", async () => {
  const port = await freePort();
  const s = await StateManager.open({ backend: "redis", url: `redis://127.0.0.1:${port}` });
  await within(3000, () => rejectsBackend(s.save("a", 1), true, /ECONNREFUSED|refused/));
  await within(
    3000,
    () => rejectsBackend(s.load("a"), true, new RegExp(`127\\.0\\.0\\.1:${port}`)),
  );
  await s.close();
});

const tcpServer = async (onSocket: (socket: Socket) => void) => {
  const server: Server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
};

test("redis: a server that speaks something else fails fast, not transient", async () => {
  const sockets = new Set<Socket>();
  const { server, port } = await tcpServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    socket.on("error", () => {});
  });
  try {
    const s = await StateManager.open({ backend: "redis", url: `redis://127.0.0.1:${port}` });
    await within(3000, () => rejectsBackend(s.save("a", 1), false, /did not answer like Redis/));
    await s.close();
  } finally {
    sockets.forEach((socket) => socket.destroy());
    await new Promise((r) => server.close(r));
  }
});

test("redis: a server that never answers fails within the connect timeout", async () => {
  const sockets = new Set<Socket>();
  const { server, port } = await tcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  try {
    const s = await StateManager.open({
      backend: "redis",
      url: `redis://127.0.0.1:${port}`,
      redisOptions: { connectTimeout: 1000 },
    });
    await within(4000, () => rejectsBackend(s.save("a", 1), true, /no ready connection|timed out/));
    await s.close();
  } finally {
    sockets.forEach((socket) => socket.destroy());
    await new Promise((r) => server.close(r));
  }
});

test("redis: a wrong password is a clear, non-transient error that hides the password", async (t) => {
  let server;
  try {
    server = await startRedisServer(["--requirepass", "right-pass"]);
  } catch (error) {
    skipUnavailable(t, "the wrong-password test", (error as Error).message);
    return;
  }
  try {
    const wrong = `redis://:wrong-pass@127.0.0.1:${server.port}/2`;
    const s = await StateManager.open({ backend: "redis", url: wrong });
    await within(3000, () => rejectsBackend(s.save("a", 1), false, /WRONGPASS.*password/));
    await assert.rejects(s.load("a"), (e: Error) => !/wrong-pass/.test(e.message));
    await s.close();
    const right = `redis://:right-pass@127.0.0.1:${server.port}/2`;
    const ok = await StateManager.open({ backend: "redis", url: right, namespace: "wf" });
    await ok.save("a", 1);
    await ok.close();
    const raw = new Redis({ port: server.port, password: "right-pass", db: 2 });
    assert.match(String(await raw.get("ms:{wf}:k:a")), /1$/);
    raw.disconnect();
  } finally {
    await server.stop();
  }
});

test("redis: connects over TLS with a rediss:// URL", async (t) => {
  const dir = tempDir("ms-redis-tls-");
  let server;
  try {
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const made = await runCommand("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ]).catch((error: Error) => ({ code: 1, stderr: error.message }));
    if (made.code !== 0) return skipUnavailable(t, "the TLS test", `openssl: ${made.stderr}`);
    const tlsPort = await freePort();
    try {
      server = await startRedisServer([
        "--tls-port",
        String(tlsPort),
        "--tls-cert-file",
        cert,
        "--tls-key-file",
        key,
        "--tls-ca-cert-file",
        cert,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        "tls-pass",
      ]);
    } catch (error) {
      return skipUnavailable(t, "the TLS test", (error as Error).message);
    }
    const url = `rediss://:tls-pass@127.0.0.1:${tlsPort}/1`;
    const redisOptions = { tls: { ca: readFileSync(cert, "utf8") } };
    const s = await StateManager.open({ backend: "redis", url, redisOptions, namespace: "wf" });
    await s.save("phase", "secure");
    assert.equal(await s.load("phase"), "secure");
    await s.close();
    // Without TLS the same port refuses to talk.
    const plain = await StateManager.open({
      backend: "redis",
      url: `redis://:tls-pass@127.0.0.1:${tlsPort}/1`,
      redisOptions: { connectTimeout: 1000 },
      retry: false,
    });
    await assert.rejects(plain.load("phase"), BackendError);
    await plain.close();
  } finally {
    await server?.stop();
    removeDir(dir);
  }
});
