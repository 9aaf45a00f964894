// test/integration/vc-support.ts
import { execFile as execFile2 } from "node:child_process";
import { promisify as promisify2 } from "node:util";

// main/errors.ts
var VlxError = class extends Error {
  constructor(code, message, hint, details) {
    super(message);
    this.code = code;
    this.hint = hint;
    this.details = details;
    this.name = "VlxError";
  }
  code;
  hint;
  details;
  toJSON() {
    return { code: this.code, message: this.message, ...this.hint ? { hint: this.hint } : {} };
  }
};
function invalid(field, rule, value) {
  const shown = value === void 0 ? "" : ` (got ${JSON.stringify(value)})`;
  return new VlxError("invalid-input", `${field}: ${rule}${shown}`);
}
function asVlxError(e) {
  if (e instanceof VlxError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new VlxError("internal", msg);
}

// main/util/names.ts
var NAME_RULES = {
  node: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  cluster: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  vc: { re: /^[a-z][a-z0-9-]{0,23}$/, rule: 'must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  vm: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  image: { re: /^[a-z0-9][a-z0-9._-]{0,63}$/, rule: 'must be 1-64 chars: lowercase letters, digits, ".", "_" or "-", not starting with a punctuation mark' }
};
function checkName(kind, value, field = kind) {
  const { re, rule } = NAME_RULES[kind];
  if (typeof value !== "string" || !re.test(value)) throw invalid(field, rule, value);
  return value;
}
var IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function isIPv4(s2) {
  return IPV4.test(s2);
}
function checkInt(value, field, min, max) {
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(field, `must be a whole number from ${min} to ${max}`, value);
  }
  return n;
}

// main/config/clusters.ts
import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

// main/config/paths.ts
import { homedir } from "node:os";
import { join } from "node:path";
function appHome() {
  return process.env.VLX_HOME || join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "virtualinux-manager");
}
var appPaths = {
  clusters: () => join(appHome(), "clusters.json"),
  knownHosts: () => join(appHome(), "known_hosts")
};
var SHARED_ROOT = "/srv/virtualinux";
var NODE_RUN = "/run/virtualinux";
var NODE_LIB = "/var/lib/virtualinux";

// main/config/clusters.ts
var DbEndpoint = z.object({
  node: z.string(),
  host: z.string(),
  port: z.number().int(),
  database: z.string(),
  user: z.string(),
  password: z.string()
});
var ClusterConfig = z.object({
  name: z.string(),
  /** Every node address known for the cluster; any live one will do. */
  nodes: z.array(z.object({ name: z.string(), address: z.string() })),
  user: z.string().default("root"),
  port: z.number().int().default(22),
  /** A private key file, or absent to use the SSH agent ($SSH_AUTH_SOCK). */
  keyFile: z.string().optional(),
  lab: z.boolean().default(false),
  db: DbEndpoint.optional(),
  /** The node that answered last: tried first next time (any live node will do). */
  lastNode: z.string().optional()
});
var Store = z.object({
  current: z.string().optional(),
  clusters: z.record(z.string(), ClusterConfig).default({})
});
function loadStore() {
  const file = appPaths.clusters();
  if (!existsSync(file)) return { clusters: {} };
  return Store.parse(JSON.parse(readFileSync(file, "utf8")));
}
function saveStore(s2) {
  const file = appPaths.clusters();
  mkdirSync(dirname(file), { recursive: true, mode: 448 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s2, null, 2) + "\n", { mode: 384 });
  chmodSync(tmp, 384);
  renameSync(tmp, file);
}
function getCluster(name) {
  const s2 = loadStore();
  const key = name ?? process.env.VLX_CLUSTER ?? s2.current;
  if (!key) throw new VlxError("not-found", "no cluster selected", "add one with `vlx cluster add` or start a lab with `vlx lab up`");
  const c = s2.clusters[key];
  if (!c) throw new VlxError("not-found", `cluster "${key}" is not known`, "see `vlx cluster list`");
  return c;
}
function rememberLastNode(cluster, node) {
  const s2 = loadStore();
  const c = s2.clusters[cluster];
  if (!c || c.lastNode === node) return;
  c.lastNode = node;
  saveStore(s2);
}

// main/ssh/knownHosts.ts
import { existsSync as existsSync2, mkdirSync as mkdirSync2, readFileSync as readFileSync2, appendFileSync, writeFileSync as writeFileSync2 } from "node:fs";
import { dirname as dirname2 } from "node:path";
import { createHash } from "node:crypto";
function hostPattern(host, port = 22) {
  return port === 22 ? host : `[${host}]:${port}`;
}
function fingerprintSha256(keyBase64) {
  const digest = createHash("sha256").update(Buffer.from(keyBase64, "base64")).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}
function readKnownHosts(file = appPaths.knownHosts()) {
  const map = /* @__PURE__ */ new Map();
  if (!existsSync2(file)) return map;
  for (const raw of readFileSync2(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [hosts, keyType, keyBase64] = line.split(/\s+/);
    if (!hosts || !keyType || !keyBase64) continue;
    for (const h of hosts.split(",")) {
      const list2 = map.get(h) ?? [];
      list2.push({ keyType, keyBase64 });
      map.set(h, list2);
    }
  }
  return map;
}
function lookupHost(host, port = 22, file = appPaths.knownHosts()) {
  return readKnownHosts(file).get(hostPattern(host, port)) ?? [];
}
function addKnownHost(host, port, key, file = appPaths.knownHosts()) {
  mkdirSync2(dirname2(file), { recursive: true, mode: 448 });
  const pattern = hostPattern(host, port);
  if (lookupHost(host, port, file).some((k) => k.keyBase64 === key.keyBase64)) return;
  appendFileSync(file, `${pattern} ${key.keyType} ${key.keyBase64}
`, { mode: 384 });
}

// main/lab/net.ts
import { z as z2 } from "zod";
var IpLink = z2.object({
  ifname: z2.string(),
  flags: z2.array(z2.string()).default([]),
  operstate: z2.string().optional(),
  master: z2.string().optional()
});

// main/config/manifest.ts
import { z as z3 } from "zod";
var Manifest = z3.object({
  version: z3.literal(1),
  name: z3.string(),
  sharedRoot: z3.string().default("/srv/virtualinux"),
  nodes: z3.array(z3.object({
    name: z3.string(),
    address: z3.string(),
    cores: z3.number().int().positive(),
    memMb: z3.number().int().positive()
  })).min(1),
  /** Where the cluster database runs (no password here: that stays on the workstation). */
  db: z3.object({ node: z3.string(), host: z3.string(), port: z3.number().int() }).optional(),
  /** Pool that VC subnets (one /24 each) are taken from. */
  vcSubnetPool: z3.string().default("10.200.0.0/16"),
  /** The physical network, which no VC subnet may overlap. */
  clusterNetwork: z3.string()
});

// main/util/quote.ts
var SAFE = /^[A-Za-z0-9_\-+=.,:/@%^]+$/;
function quote(arg) {
  const s2 = String(arg);
  if (s2.length > 0 && SAFE.test(s2)) return s2;
  return `'${s2.replace(/'/g, `'\\''`)}'`;
}
function sh(...argv) {
  return argv.map(quote).join(" ");
}

// main/lab/state.ts
import { z as z4 } from "zod";
var LabState = z4.object({
  version: z4.literal(1),
  nodes: z4.number().int().min(1),
  cores: z4.number().int(),
  memMb: z4.number().int(),
  /** Host directories `up` had to create as mountpoints; `down` removes only these. */
  createdMountpoints: z4.array(z4.string()).default([]),
  upAt: z4.string()
});

// main/ssh/connection.ts
import ssh22 from "ssh2";
import { connect as netConnect } from "node:net";
import { readFileSync as readFileSync3 } from "node:fs";
import { StringDecoder } from "node:string_decoder";

// main/ssh/errors.ts
function normaliseSshError(e, t) {
  if (e instanceof VlxError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const where = `node ${t.node} (${t.address}:${t.port})`;
  const details = { node: t.node, address: t.address, port: t.port, cause: err.message };
  const code = err.code ?? "";
  const msg = err.message ?? "";
  if (code === "ECONNREFUSED") {
    return new VlxError("unreachable", `${where} refused the connection`, "is sshd running on the node, on this port?", details);
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN" || code === "ENETDOWN") {
    return new VlxError("unreachable", `${where} is unreachable (no route to host)`, "is the node powered on and on the network?", details);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || err.level === "client-dns") {
    return new VlxError("unreachable", `${where}: the host name does not resolve`, "check the address", details);
  }
  if (code === "ECONNRESET" || code === "EPIPE" || /Connection lost before handshake/i.test(msg)) {
    return new VlxError("unreachable", `${where} closed the connection during the SSH handshake`, "check sshd on the node and its logs", details);
  }
  if (code === "ETIMEDOUT" || code === "connect-timeout") {
    return new VlxError("unreachable", `${where} did not answer (connection timed out)`, "is the node powered on and on the network?", details);
  }
  if (err.level === "client-timeout" || /Timed out while waiting for handshake/i.test(msg)) {
    const ka = /keepalive/i.test(msg);
    return new VlxError(
      ka ? "unreachable" : "timeout",
      ka ? `${where} stopped answering (keep-alive timed out)` : `${where} accepted the connection but the SSH handshake timed out`,
      ka ? "the node may have crashed or lost its network" : "the node may be overloaded, or the port is not an SSH server",
      details
    );
  }
  if (err.level === "client-authentication" || /authentication methods failed/i.test(msg)) {
    const who = t.user ? `${t.user}@` : "";
    return new VlxError("auth-failed", `${where}: the key was refused for ${who}${t.address}`, "check the key file (--key) or the keys in your SSH agent, and authorized_keys on the node", details);
  }
  if (err.level === "agent") {
    return new VlxError("auth-failed", `${where}: the SSH agent failed: ${msg}`, "check $SSH_AUTH_SOCK, or give a key file with --key", details);
  }
  if (/Cannot parse privateKey|Encrypted private OpenSSH key|no passphrase/i.test(msg)) {
    return new VlxError("auth-failed", `the private key cannot be used: ${msg}`, "use an unencrypted key file, or load the key into your SSH agent and omit --key", details);
  }
  if (err.level === "handshake" || err.level === "protocol") {
    return new VlxError("unreachable", `${where}: SSH handshake failed: ${msg}`, void 0, details);
  }
  return new VlxError("unreachable", `${where}: ${msg || "connection failed"}`, void 0, details);
}

// main/ssh/hostKeys.ts
import ssh2 from "ssh2";
function classifyHostKey(presented, known) {
  if (known.length === 0) return "unknown";
  return known.some((k) => k.keyType === presented.keyType && k.keyBase64 === presented.keyBase64) ? "match" : "changed";
}
function decideHostKey(status2, acceptNew) {
  switch (status2) {
    case "match":
      return "connect";
    case "unknown":
      return acceptNew ? "remember-and-connect" : "refuse-unknown";
    case "changed":
      return "refuse-changed";
  }
}
var ALGOS_FOR_TYPE = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
};
var DEFAULT_ORDER = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
function hostKeyAlgorithms(known) {
  const first = known.flatMap((k) => ALGOS_FOR_TYPE[k.keyType] ?? []);
  return [.../* @__PURE__ */ new Set([...first, ...DEFAULT_ORDER])];
}
function presentedKey(raw) {
  const parsed = ssh2.utils.parseKey(raw);
  const keyType = parsed instanceof Error ? "unknown" : (Array.isArray(parsed) ? parsed[0] : parsed).type;
  return { keyType, keyBase64: raw.toString("base64") };
}
function acceptNewFromEnv() {
  return process.env.VLX_ACCEPT_NEW_HOST_KEY === "1";
}
function hostKeyError(verdict, t, key, known, file) {
  const where = `node ${t.node} (${t.address}:${t.port})`;
  const fp = fingerprintSha256(key.keyBase64);
  const details = { node: t.node, address: t.address, port: t.port, keyType: key.keyType, fingerprint: fp };
  if (verdict === "refuse-unknown") {
    return new VlxError(
      "host-key-unknown",
      `${where} is not known yet: it presents the ${key.keyType} host key ${fp}`,
      "if that fingerprint is the node's (check on its console: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), run again with --accept-new-host-key",
      details
    );
  }
  const was = known.map((k) => `${k.keyType} ${fingerprintSha256(k.keyBase64)}`).join(", ");
  return new VlxError(
    "host-key-changed",
    `HOST KEY CHANGED for ${where}: it presents ${key.keyType} ${fp}, but ${file} has ${was}. Someone may be intercepting the connection; refused.`,
    `if the node was reinstalled on purpose, delete the line for ${hostPattern(t.address, t.port)} from ${file} and connect again to see the new fingerprint`,
    { ...details, known: was }
  );
}
function makeHostVerifier(t, opts = {}) {
  const file = opts.knownHostsFile ?? appPaths.knownHosts();
  const known = lookupHost(t.address, t.port, file);
  const acceptNew = opts.acceptNew ?? acceptNewFromEnv();
  let refusal;
  return {
    algorithms: hostKeyAlgorithms(known),
    verify: (raw) => {
      const key = presentedKey(raw);
      const verdict = decideHostKey(classifyHostKey(key, known), acceptNew);
      if (verdict === "connect") return true;
      if (verdict === "remember-and-connect") {
        addKnownHost(t.address, t.port, key, file);
        return true;
      }
      refusal = hostKeyError(verdict, t, key, known, file);
      return false;
    },
    refusal: () => refusal
  };
}

// main/ssh/semaphore.ts
var Semaphore = class {
  constructor(size) {
    this.size = size;
    this.free = size;
  }
  size;
  free;
  waiting = [];
  async acquire(signal) {
    if (this.free > 0) {
      this.free--;
      return this.releaser();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(this.releaser());
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
  get inUse() {
    return this.size - this.free;
  }
  releaser() {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
};

// main/ssh/connection.ts
var DEFAULTS = {
  connectTimeoutMs: 5e3,
  readyTimeoutMs: 15e3,
  keepaliveIntervalMs: 3e3,
  keepaliveCountMax: 3,
  maxChannels: 8,
  channelOpenTimeoutMs: 5e3
};
function notStarted(e) {
  return e instanceof VlxError && e.code === "unreachable" && e.details?.notStarted === true;
}
var NodeConnection = class {
  name;
  address;
  opts;
  slots;
  client;
  connecting;
  /** Rejecters of every call in flight on the current client, failed together when it drops. */
  inFlight = /* @__PURE__ */ new Set();
  closed = false;
  constructor(ref, opts) {
    this.name = ref.name;
    this.address = ref.address;
    this.opts = { ...DEFAULTS, ...opts };
    this.slots = new Semaphore(this.opts.maxChannels);
  }
  get connected() {
    return this.client !== void 0;
  }
  target() {
    return { node: this.name, address: this.address, port: this.opts.port, user: this.opts.user };
  }
  /** Connect if needed. `connectTimeoutMs` overrides the TCP deadline for this attempt (races use a short one). */
  connect(connectTimeoutMs) {
    if (this.closed) return Promise.reject(new VlxError("cancelled", `connection to node ${this.name} was closed`));
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.open(connectTimeoutMs ?? this.opts.connectTimeoutMs).finally(() => {
        this.connecting = void 0;
      });
    }
    return this.connecting;
  }
  auth() {
    if (this.opts.keyFile) {
      try {
        return { privateKey: readFileSync3(this.opts.keyFile) };
      } catch (e) {
        throw new VlxError("not-found", `key file ${this.opts.keyFile} cannot be read: ${e.message}`, "give a readable private key with --key");
      }
    }
    const agent = this.opts.agent ?? process.env.SSH_AUTH_SOCK;
    if (agent) return { agent };
    throw new VlxError("auth-failed", `no key for node ${this.name}: the cluster has no key file and no SSH agent is running`, "give a key with --key FILE, or start ssh-agent and ssh-add your key");
  }
  open(connectTimeoutMs) {
    const t = this.target();
    const auth = this.auth();
    const hv = makeHostVerifier(t, this.opts);
    return new Promise((resolve, reject) => {
      const client = new ssh22.Client();
      let sock;
      let settled = false;
      const fail = (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(tcpTimer);
        client.removeAllListeners();
        client.on("error", () => {
        });
        client.end();
        sock?.destroy();
        reject(hv.refusal() ?? normaliseSshError(e, t));
      };
      const tcpTimer = setTimeout(() => {
        fail(Object.assign(new Error("connect timeout"), { code: "connect-timeout" }));
      }, connectTimeoutMs);
      sock = netConnect({ host: this.address, port: this.opts.port });
      sock.setNoDelay(true);
      sock.once("error", fail);
      sock.once("connect", () => {
        clearTimeout(tcpTimer);
        sock.removeListener("error", fail);
        client.on("error", (e) => {
          if (!settled) fail(e);
          else this.dropped(client, normaliseSshError(e, t));
        });
        client.on("close", () => {
          if (!settled) fail(Object.assign(new Error("Connection lost before handshake"), { code: "ECONNRESET" }));
          else this.dropped(client);
        });
        client.once("ready", () => {
          settled = true;
          if (this.closed) {
            client.end();
            reject(new VlxError("cancelled", `connection to node ${this.name} was closed`));
            return;
          }
          this.client = client;
          resolve(client);
        });
        try {
          client.connect({
            sock,
            username: this.opts.user,
            ...auth,
            readyTimeout: this.opts.readyTimeoutMs,
            keepaliveInterval: this.opts.keepaliveIntervalMs,
            keepaliveCountMax: this.opts.keepaliveCountMax,
            algorithms: { serverHostKey: hv.algorithms },
            hostVerifier: hv.verify
          });
        } catch (e) {
          fail(e);
        }
      });
    });
  }
  dropped(client, why) {
    if (this.client !== client) return;
    this.client = void 0;
    client.removeAllListeners();
    client.on("error", () => {
    });
    client.end();
    const err = why ?? new VlxError("unreachable", `lost the connection to node ${this.name} (${this.address})`, "the node may have crashed or lost its network", { node: this.name, address: this.address });
    for (const rej of [...this.inFlight]) rej(err);
    this.inFlight.clear();
  }
  /** Open a channel on a live connection, treating an unanswered open as a dead node. */
  openChannel(client, what, open) {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        const err = new VlxError("unreachable", `node ${this.name} (${this.address}) stopped answering (no reply when opening ${what})`, "the node may have crashed or lost its network", { node: this.name, address: this.address, notStarted: true });
        this.dropped(client, err);
        reject(err);
      }, this.opts.channelOpenTimeoutMs);
      try {
        open((err, ch) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (err) {
            if (this.client !== client) {
              reject(new VlxError("unreachable", `lost the connection to node ${this.name} (${this.address}) before ${what} opened`, void 0, { node: this.name, address: this.address, notStarted: true }));
            } else {
              reject(new VlxError("remote-failed", `node ${this.name} refused to open ${what}: ${err.message}`, "sshd may limit sessions (MaxSessions) or forwarding (AllowStreamLocalForwarding, AllowTcpForwarding)", { node: this.name }));
            }
          } else resolve(ch);
        });
      } catch (e) {
        done = true;
        clearTimeout(timer);
        reject(new VlxError("unreachable", `lost the connection to node ${this.name}: ${e.message}`, void 0, { node: this.name, notStarted: true }));
      }
    });
  }
  /**
   * sshd frees a session slot a little after the channel closes on our side (and a timed-out
   * command may still hold one), so a refusal while our own channels are busy is retried
   * briefly instead of failing the command.
   */
  async openExecChannel(client, command) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.openChannel(client, "a command channel", (cb) => client.exec(command, cb));
      } catch (e) {
        const refused = e instanceof VlxError && e.code === "remote-failed" && /open failed/i.test(e.message);
        if (!refused || attempt >= 10 || this.client !== client) throw e;
        await new Promise((r) => setTimeout(r, 20 * attempt));
      }
    }
  }
  async exec(command, opts = {}) {
    const started = Date.now();
    const signal = opts.signal;
    if (signal?.aborted) throw cancelled(this.name, command);
    let deadline;
    let onAbort;
    let channel;
    let release;
    let abandoned = false;
    const stop2 = () => {
      abandoned = true;
      try {
        channel?.signal("KILL");
      } catch {
      }
      try {
        channel?.close();
      } catch {
      }
    };
    const interrupt = new Promise((_, reject) => {
      if (opts.timeoutMs !== void 0) {
        deadline = setTimeout(() => {
          stop2();
          reject(new VlxError("timeout", `\`${command}\` on node ${this.name} did not finish within ${fmtSeconds(opts.timeoutMs)}`, "raise --timeout if the command is expected to take longer", { node: this.name, command, ms: Date.now() - started }));
        }, opts.timeoutMs);
      }
      if (signal) {
        onAbort = () => {
          stop2();
          reject(cancelled(this.name, command));
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
    interrupt.catch(() => {
    });
    const work = (async () => {
      const client = await this.connect();
      if (abandoned) throw cancelled(this.name, command);
      release = await this.slots.acquire(signal);
      if (abandoned) throw cancelled(this.name, command);
      channel = await this.openExecChannel(client, command);
      if (abandoned) {
        stop2();
        throw cancelled(this.name, command);
      }
      return await new Promise((resolve, reject) => {
        const ch = channel;
        const lost = (e) => reject(e);
        this.inFlight.add(lost);
        const out = new StringDecoder("utf8");
        const err = new StringDecoder("utf8");
        let stdout = "";
        let stderr = "";
        let code;
        let sig;
        ch.on("data", (b) => {
          const s2 = out.write(b);
          stdout += s2;
          if (s2 && opts.onStdout) opts.onStdout(s2);
        });
        ch.stderr.on("data", (b) => {
          const s2 = err.write(b);
          stderr += s2;
          if (s2 && opts.onStderr) opts.onStderr(s2);
        });
        ch.on("exit", (c, s2) => {
          if (typeof c === "number") code = c;
          if (s2) sig = s2;
        });
        ch.on("close", () => {
          this.inFlight.delete(lost);
          const restOut = out.end();
          const restErr = err.end();
          if (restOut) {
            stdout += restOut;
            opts.onStdout?.(restOut);
          }
          if (restErr) {
            stderr += restErr;
            opts.onStderr?.(restErr);
          }
          resolve({ code: code ?? (sig ? 128 : -1), ...sig ? { signal: sig } : {}, stdout, stderr });
        });
        if (opts.stdin !== void 0) ch.end(opts.stdin);
        else ch.end();
      });
    })();
    try {
      return await Promise.race([work, interrupt]);
    } finally {
      clearTimeout(deadline);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
      abandoned = true;
      work.then(() => release?.(), () => release?.());
    }
  }
  async run(command, opts = {}) {
    const r = await this.exec(command, opts);
    if (r.code !== 0) throw remoteFailed(this.name, command, r);
    return r.stdout;
  }
  async shell(size) {
    const client = await this.connect();
    return this.openChannel(
      client,
      "a shell",
      (cb) => client.shell({ rows: size.rows, cols: size.cols, term: size.term ?? "xterm-256color" }, cb)
    );
  }
  async openUnixSocket(path) {
    const client = await this.connect();
    return this.openChannel(client, `unix socket ${path}`, (cb) => client.openssh_forwardOutStreamLocal(path, cb));
  }
  async openTcp(host, port) {
    const client = await this.connect();
    return this.openChannel(client, `a tunnel to ${host}:${port}`, (cb) => client.forwardOut("127.0.0.1", 0, host, port, cb));
  }
  /** Close for good: later calls fail instead of reconnecting. */
  async close() {
    this.closed = true;
    const c = this.client;
    this.client = void 0;
    if (!c) return;
    await new Promise((resolve) => {
      c.once("close", () => resolve());
      c.end();
      setTimeout(resolve, 500).unref();
    });
    c.removeAllListeners();
  }
};
function remoteFailed(node, command, r) {
  const tail = r.stderr.trim().split("\n").slice(-5).join("\n");
  const how = r.signal ? `was killed by SIG${r.signal}` : `exited with ${r.code}`;
  return new VlxError("remote-failed", `on node ${node}: \`${command}\` ${how}${tail ? `: ${tail}` : ""}`, void 0, {
    node,
    command,
    code: r.code,
    stderr: r.stderr,
    stdout: r.stdout
  });
}
function cancelled(node, command) {
  return new VlxError("cancelled", `\`${command}\` on node ${node} was cancelled`, void 0, { node, command });
}
function fmtSeconds(ms) {
  return ms % 1e3 === 0 ? `${ms / 1e3} s` : `${(ms / 1e3).toFixed(1)} s`;
}

// main/ssh/session.ts
var SEVERITY = ["host-key-changed", "host-key-unknown", "auth-failed", "not-found", "timeout", "unreachable"];
function pickError(cluster, failures) {
  if (failures.length === 0) return new VlxError("unreachable", `cluster ${cluster} has no nodes`, "add one with `vlx cluster add`");
  const rank = (e) => {
    const i = SEVERITY.indexOf(e.code);
    return i < 0 ? SEVERITY.length : i;
  };
  const worst = [...failures].sort((a, b) => rank(a.error) - rank(b.error))[0];
  if (worst.error.code !== "unreachable" && worst.error.code !== "timeout") return worst.error;
  const each = failures.map((f) => `  ${f.error.message}`).join("\n");
  return new VlxError(
    "unreachable",
    `no node of cluster ${cluster} answered:
${each}`,
    "check that the nodes are up and reachable from this machine",
    { nodes: failures.map((f) => f.node.name) }
  );
}
var SshClusterSession = class {
  constructor(config, opts = {}) {
    this.config = config;
    this.opts = opts;
    this.refs = config.nodes.map((n) => ({ name: checkName("node", n.name, "node name"), address: n.address }));
    this.raceDeadlineMs = opts.raceDeadlineMs ?? 1500;
    this.raceStaggerMs = opts.raceStaggerMs ?? 250;
    if (config.lastNode && this.refs.some((r) => r.name === config.lastNode)) this.current = config.lastNode;
  }
  config;
  opts;
  conns = /* @__PURE__ */ new Map();
  refs;
  current;
  racing;
  raceDeadlineMs;
  raceStaggerMs;
  nodes() {
    return this.refs.map((r) => ({ ...r }));
  }
  /** The node `any()` would use now, if one is chosen. */
  get currentNode() {
    return this.current;
  }
  ref(name) {
    checkName("node", name, "node");
    const r = this.refs.find((n) => n.name === name);
    if (!r) {
      throw new VlxError("not-found", `cluster ${this.config.name} has no node "${name}"`, `its nodes: ${this.refs.map((n) => n.name).join(", ")}`);
    }
    return r;
  }
  conn(ref) {
    let c = this.conns.get(ref.name);
    if (!c) {
      const { raceDeadlineMs: _d, raceStaggerMs: _s, persistLastNode: _p, ...connOpts } = this.opts;
      c = new NodeConnection(ref, {
        connectTimeoutMs: 3e3,
        ...connOpts,
        user: this.config.user,
        port: this.config.port,
        keyFile: this.config.keyFile
      });
      this.conns.set(ref.name, c);
    }
    return c;
  }
  async any() {
    const cur = this.current ? this.conns.get(this.current) : void 0;
    if (cur?.connected) return cur;
    this.racing ??= this.race().finally(() => {
      this.racing = void 0;
    });
    return this.racing;
  }
  /**
   * Happy-eyeballs over the nodes: the last node used starts first, each next one a little
   * later or as soon as every earlier one has failed; the first ready connection wins. The
   * losers stay in the pool (onNodes reuses them).
   */
  race() {
    const order = [...this.refs].sort((a, b) => Number(b.name === this.current) - Number(a.name === this.current));
    return new Promise((resolve, reject) => {
      const failures = [];
      let next = 0;
      let running = 0;
      let won = false;
      let timer;
      const launch = () => {
        clearTimeout(timer);
        if (won || next >= order.length) return;
        const ref = order[next++];
        running++;
        const c = this.conn(ref);
        c.connect(this.raceDeadlineMs).then(
          () => {
            running--;
            if (won) return;
            won = true;
            clearTimeout(timer);
            this.choose(ref.name);
            resolve(c);
          },
          (e) => {
            running--;
            failures.push({ node: ref, error: asVlxError(e) });
            if (won) return;
            if (next < order.length) launch();
            else if (running === 0) reject(pickError(this.config.name, failures));
          }
        );
        if (next < order.length) timer = setTimeout(launch, this.raceStaggerMs);
      };
      if (order.length === 0) reject(pickError(this.config.name, []));
      else launch();
    });
  }
  choose(name) {
    if (this.current === name) return;
    this.current = name;
    if (this.opts.persistLastNode !== false) {
      try {
        rememberLastNode(this.config.name, name);
      } catch {
      }
    }
  }
  /**
   * Run one command on any live node. If the node dies before the command starts, the
   * next live node runs it; once started, a failure is reported, never silently retried.
   */
  async execAny(command, opts = {}) {
    const tried = /* @__PURE__ */ new Set();
    for (; ; ) {
      const c = await this.any();
      try {
        const r = await c.exec(command, opts);
        return { ...r, node: c.name, address: c.address };
      } catch (e) {
        if (!notStarted(e) || tried.has(c.name) || tried.size >= this.refs.length) throw e;
        tried.add(c.name);
      }
    }
  }
  async node(name) {
    const c = this.conn(this.ref(name));
    await c.connect();
    return c;
  }
  async onNodes(names, command, opts = {}) {
    const refs = names === "all" ? this.refs : [...new Set(names)].map((n) => this.ref(n));
    return Promise.all(
      refs.map(async (ref) => {
        const started = performance.now();
        try {
          const c = this.conn(ref);
          await c.connect(this.raceDeadlineMs);
          const r = await c.exec(command, opts);
          return { node: ref.name, address: ref.address, ...r, ms: performance.now() - started };
        } catch (e) {
          const err = asVlxError(e);
          return {
            node: ref.name,
            address: ref.address,
            code: -1,
            stdout: "",
            stderr: "",
            error: { code: err.code, message: err.message },
            ms: performance.now() - started
          };
        }
      })
    );
  }
  async close() {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.close()));
  }
};
function openCluster(config, opts = {}) {
  return new SshClusterSession(config, opts);
}

// main/db/client.ts
import { hostname } from "node:os";
import pg from "pg";
function processLabel() {
  return `${hostname()} pid ${process.pid}`;
}
var LOCK_NS = 7761016;
var LOCK_ARGS = `${LOCK_NS}, hashtext($1)`;
function lockHeldSql(keyExpr) {
  return `exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.classid = ${LOCK_NS}::oid
    and l.objid = hashtext(${keyExpr})::oid and l.objsubid = 2 and l.granted)`;
}
var UNREACHABLE = /* @__PURE__ */ new Set(["ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "ECONNRESET", "EAI_AGAIN"]);
function mapPgError(e, where) {
  if (e instanceof VlxError) return e;
  const err = e;
  const msg = err?.message ?? String(e);
  if (err?.code && UNREACHABLE.has(err.code)) {
    return new VlxError("unreachable", `database ${where} is not reachable: ${msg}`, "check `vlx db status`; deploy it with `vlx db deploy --node NODE`");
  }
  if (/timeout/i.test(msg) && /connect/i.test(msg) || /Connection terminated|timeout expired/i.test(msg)) {
    return new VlxError("unreachable", `database ${where} did not answer: ${msg}`, "check `vlx db status`");
  }
  if (err?.code === "28P01" || err?.code === "28000") {
    return new VlxError("auth-failed", `database ${where} refused our credentials: ${msg}`, "re-run `vlx db deploy --node NODE` to reset the password");
  }
  const details = { pgCode: err?.code, constraint: err?.constraint, detail: err?.detail };
  if (err?.code === "23505" || err?.code === "23P01") {
    return new VlxError("conflict", `${msg}${err.detail ? ` (${err.detail})` : ""}`, void 0, details);
  }
  if (err?.code?.startsWith("23")) return new VlxError("invalid-input", `${msg}${err.detail ? ` (${err.detail})` : ""}`, void 0, details);
  return new VlxError("db", `database ${where}: ${msg}`, void 0, details);
}
function wrap(q, where) {
  return {
    async query(text, params) {
      try {
        return await q.query(text, params);
      } catch (e) {
        throw mapPgError(e, where);
      }
    }
  };
}
function openDb(endpoint, opts = {}) {
  const where = `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
  const config = {
    host: endpoint.host,
    port: endpoint.port,
    database: endpoint.database,
    user: endpoint.user,
    password: endpoint.password,
    application_name: `vlx ${processLabel()}`,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5e3,
    // A workstation that vanishes without closing its socket must not hold VC locks forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 1e4
  };
  const pool = new pg.Pool({ ...config, max: opts.max ?? 4, idleTimeoutMillis: 3e4 });
  pool.on("error", () => {
  });
  const pooled = wrap(pool, where);
  async function dedicated() {
    const c = new pg.Client(config);
    c.on("error", () => {
    });
    try {
      await c.connect();
    } catch (e) {
      await c.end().catch(() => {
      });
      throw mapPgError(e, where);
    }
    return c;
  }
  async function holder(key) {
    const task = await pooled.query(
      `select id, kind, target, host from tasks where lock_key = $1 and state = 'running' order by started_at desc limit 1`,
      [key]
    ).catch(() => ({ rows: [] }));
    const t = task.rows[0];
    if (t) return `task ${t.id} (${t.kind} ${t.target}) on ${t.host}`;
    const who = await pooled.query(
      `select a.application_name as app, host(a.client_addr) as addr from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.classid = ${LOCK_NS}::oid and l.objid = hashtext($1)::oid and l.objsubid = 2 and l.granted limit 1`,
      [key]
    ).catch(() => ({ rows: [] }));
    const w = who.rows[0];
    return w ? `${w.app || "another session"}${w.addr ? ` from ${w.addr}` : ""}` : "another session";
  }
  return {
    where,
    query: pooled.query,
    async tx(fn) {
      let client;
      try {
        client = await pool.connect();
      } catch (e) {
        throw mapPgError(e, where);
      }
      try {
        await client.query("begin");
        const out = await fn(wrap(client, where));
        await client.query("commit");
        return out;
      } catch (e) {
        await client.query("rollback").catch(() => {
        });
        throw mapPgError(e, where);
      } finally {
        client.release();
      }
    },
    async withAdvisoryLock(key, fn, lockOpts = {}) {
      const c = await dedicated();
      const q = wrap(c, where);
      try {
        if (lockOpts.wait) {
          await q.query(`select pg_advisory_lock(${LOCK_ARGS})`, [key]);
        } else {
          const r = await q.query(`select pg_try_advisory_lock(${LOCK_ARGS}) as ok`, [key]);
          if (!r.rows[0].ok) {
            throw new VlxError(
              "conflict",
              `"${key}" is locked by ${await holder(key)}`,
              "wait for it to finish, or cancel it with `vlx tasks cancel ID`",
              { lockKey: key }
            );
          }
        }
        try {
          return await fn(q);
        } finally {
          await q.query(`select pg_advisory_unlock(${LOCK_ARGS})`, [key]).catch(() => {
          });
        }
      } finally {
        await c.end().catch(() => {
        });
      }
    },
    async isLocked(key) {
      const r = await pooled.query(`select ${lockHeldSql("$1")} as held`, [key]);
      return r.rows[0].held;
    },
    async listen(channel, onPayload) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new VlxError("invalid-input", `channel: must be a lowercase identifier (got ${JSON.stringify(channel)})`);
      const c = await dedicated();
      c.on("notification", (n) => {
        if (n.channel === channel) onPayload(n.payload ?? "");
      });
      await wrap(c, where).query(`listen ${channel}`);
      return async () => {
        await c.end().catch(() => {
        });
      };
    },
    async close() {
      await pool.end().catch(() => {
      });
    }
  };
}
function openClusterDb(cluster, opts) {
  if (!cluster.db) {
    throw new VlxError("not-found", `cluster "${cluster.name}" has no database yet`, "deploy it with `vlx db deploy --node NODE`");
  }
  return openDb(cluster.db, opts);
}

// main/db/deploy.ts
var PG_ROOT = `${NODE_LIB}/pg`;
var DATA = `${PG_ROOT}/data`;
var SOCKETS = `${PG_ROOT}/run`;
var LOG = `${PG_ROOT}/log/postgresql.log`;
var INIT_DONE = `${PG_ROOT}/initdb.done`;

// main/vm/serial.ts
var READY_MARKER = "vlx-guest-ready";
var SerialConsole = class _SerialConsole {
  constructor(stream, label = "serial") {
    this.stream = stream;
    this.label = label;
    stream.on("data", (c) => this.onData(String(c)));
    const end = () => {
      this.ended ??= new VlxError("remote-failed", `${label}: console closed`);
      this.wake();
    };
    stream.on("close", end);
    stream.on("end", end);
    stream.on("error", (e) => {
      this.ended = new VlxError("remote-failed", `${label}: console error: ${e.message}`);
      this.wake();
    });
  }
  stream;
  label;
  text = "";
  /** Everything before this offset has been consumed by an earlier wait. */
  mark = 0;
  waiters = /* @__PURE__ */ new Set();
  ended;
  static KEEP = 1 << 20;
  onData(s2) {
    this.text += s2;
    if (this.text.length > _SerialConsole.KEEP) {
      const drop = this.text.length - _SerialConsole.KEEP;
      this.text = this.text.slice(drop);
      this.mark = Math.max(0, this.mark - drop);
    }
    this.wake();
  }
  wake() {
    for (const w of [...this.waiters]) w();
  }
  /** All output seen so far (up to the last MiB). */
  get output() {
    return this.text;
  }
  /** Wait for the pattern in output not yet consumed; consumes up to the end of the match. */
  waitFor(pattern, timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const rest = this.text.slice(this.mark);
        const m = rest.match(pattern);
        if (m && m.index !== void 0) {
          this.mark += m.index + m[0].length;
          done();
          resolve(m);
          return true;
        }
        if (this.ended) {
          done();
          reject(this.ended);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        const tail = this.text.slice(-400).replace(/\r/g, "");
        reject(new VlxError("timeout", `${this.label}: ${pattern} not seen within ${timeoutMs} ms`, void 0, { tail }));
      }, timeoutMs);
      const waiter = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      check();
    });
  }
  write(s2) {
    this.stream.write(s2);
  }
  /**
   * Run a shell command in the guest's console shell and return what it printed. A nonce
   * brackets the output so the echoed command line is never mistaken for its result.
   */
  async run(command, timeoutMs = 3e4) {
    const nonce = Math.random().toString(36).slice(2, 10);
    this.write(`echo vlx''begin-${nonce}; ${command}; echo vlx''end-${nonce}-$?
`);
    await this.waitFor(new RegExp(`\\nvlxbegin-${nonce}\\r?\\n`), timeoutMs);
    const m = await this.waitFor(new RegExp(`([\\s\\S]*?)vlxend-${nonce}-(\\d+)`), timeoutMs);
    return { code: Number(m[2]), output: m[1].replace(/\r/g, "") };
  }
  close() {
    this.stream.destroy();
  }
};

// main/images/types.ts
import { z as z5 } from "zod";
var ImageMetaSchema = z5.object({
  name: z5.string(),
  kind: z5.enum(["kernel", "disk"]),
  guest: z5.enum(["busybox", "debian", "imported"]),
  /** Kernel images: the base command line; the VC layer appends root=, vlx.* parameters. */
  cmdline: z5.string().optional(),
  /** Whether a VM needs a per-VM NoCloud seed volume (network, hostname, host keys). */
  seed: z5.enum(["nocloud"]).optional(),
  /** The guest's root device when it has one (root=... is part of cmdline too). */
  rootDevice: z5.string().optional(),
  createdAt: z5.string(),
  sizes: z5.object({
    kernel: z5.number().optional(),
    initrd: z5.number().optional(),
    qcow2: z5.number(),
    /** The disk's virtual size: a VM's overlay is at least this big. */
    qcow2Virtual: z5.number()
  }),
  /** Hash of everything the build used; equal hashes mean the built files are equal. */
  inputs: z5.string(),
  kernelRelease: z5.string().optional()
});

// main/images/tiny.ts
function tinyGuestParams(p) {
  const out = [];
  const ipv4 = /^(\d{1,3}\.){3}\d{1,3}$/;
  if (p.ip !== void 0) {
    if (!ipv4.test(p.ip)) throw new VlxError("invalid-input", `ip: must be an IPv4 address (got ${JSON.stringify(p.ip)})`);
    const prefix = p.prefix ?? 24;
    if (!Number.isInteger(prefix) || prefix < 1 || prefix > 32) throw new VlxError("invalid-input", `prefix: must be 1-32 (got ${prefix})`);
    out.push(`vlx.ip=${p.ip}/${prefix}`);
  }
  if (p.gw !== void 0) {
    if (!ipv4.test(p.gw)) throw new VlxError("invalid-input", `gw: must be an IPv4 address (got ${JSON.stringify(p.gw)})`);
    out.push(`vlx.gw=${p.gw}`);
  }
  if (p.name !== void 0) out.push(`vlx.name=${checkName("vm", p.name, "name")}`);
  if (p.vc !== void 0) out.push(`vlx.vc=${checkName("vc", p.vc, "vc")}`);
  if (p.shared !== void 0) {
    if (!/^(\d{1,3}\.){3}\d{1,3}:\/[A-Za-z0-9._/-]*$/.test(p.shared)) throw new VlxError("invalid-input", `shared: must be ADDRESS:/path (got ${JSON.stringify(p.shared)})`);
    out.push(`vlx.shared=${p.shared}`);
  }
  return out.join(" ");
}

// main/vc/storagePaths.ts
import { posix } from "node:path";
var ROOT = /^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;
var NODE_MAX = 9999;
function checkStorageRoot(root) {
  if (typeof root !== "string" || !ROOT.test(root) || root.split("/").some((s2) => s2 === ".." || s2 === ".")) {
    throw invalid("shared storage root", 'must be an absolute path of letters, digits, ".", "_" and "-" segments without "." or ".."', root);
  }
  return root;
}
function storagePaths(root = SHARED_ROOT) {
  checkStorageRoot(root);
  const j = posix.join;
  const imagesDir = j(root, "images");
  const vcRoot = j(root, "vc");
  const clusterRoot = j(root, "cluster");
  const vcDir = (vc) => j(vcRoot, checkName("vc", vc, "VC name"));
  const clusterDir = (c) => j(clusterRoot, checkName("cluster", c, "cluster container"));
  const nodeN = (n) => checkInt(n, "node number", 1, NODE_MAX);
  return {
    root,
    manifest: j(root, "manifest.json"),
    imagesDir,
    image(image) {
      const base = j(imagesDir, checkName("image", image, "image name"));
      return { disk: `${base}.qcow2`, kernel: `${base}.kernel`, initrd: `${base}.initrd`, meta: `${base}.json` };
    },
    vcRoot,
    vcDir,
    vcShared: (vc) => j(vcDir(vc), "shared"),
    vm(vc, vm) {
      const base = j(vcDir(vc), checkName("vm", vm, "VM name"));
      return { disk: `${base}.qcow2`, swap: `${base}.swap.qcow2`, state: `${base}.state`, statePart: `${base}.state.part` };
    },
    clusterDir,
    clusterOriginal: (c) => j(clusterDir(c), "original.qcow2"),
    nodeRoot: (c, n) => j(clusterDir(c), `node${nodeN(n)}.qcow2`),
    nodeSwap: (c, n) => j(clusterDir(c), `node${nodeN(n)}.swap`),
    clusterShared: (c) => j(clusterDir(c), "shared")
  };
}

// main/events.ts
var EventBus = class {
  listeners = /* @__PURE__ */ new Map();
  /** Subscribe; the returned function unsubscribes. */
  on(topic, fn) {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, set = /* @__PURE__ */ new Set());
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }
  /** Deliver synchronously, in subscription order. A throwing listener must not break the publisher or the others. */
  emit(topic, event) {
    for (const fn of [...this.listeners.get(topic) ?? []]) {
      try {
        fn(event);
      } catch {
      }
    }
  }
  listenerCount(topic) {
    return this.listeners.get(topic)?.size ?? 0;
  }
};
var events = new EventBus();

// main/tasks/runner.ts
function taskLockKey(def) {
  return def.lockKey ?? `task:${def.kind}:${def.target}`;
}
function checkWorkflow(def) {
  if (!def.kind || !/^[a-z][a-z0-9.-]{0,63}$/.test(def.kind)) throw invalid("workflow kind", 'must be lowercase letters, digits, "." or "-"', def.kind);
  if (!def.target) throw invalid("workflow target", "must not be empty", def.target);
  if (def.steps.length === 0) throw invalid("workflow steps", "must have at least one step");
  const seen = /* @__PURE__ */ new Set();
  for (const s2 of def.steps) {
    if (!s2.name) throw invalid("step name", "must not be empty");
    if (seen.has(s2.name)) throw invalid("step name", "must be unique within a workflow", s2.name);
    seen.add(s2.name);
  }
}
function resumeDecision(prior, steps) {
  if (!prior || prior.state === "succeeded") return "new";
  if (prior.state === "running" && prior.alive) return "busy";
  const same2 = prior.steps.length === steps.length && prior.steps.every((n, i) => n === steps[i]);
  return same2 ? "resume" : "new";
}
function overallProgress(steps) {
  if (steps.length === 0) return 0;
  const sum = steps.reduce((a, s2) => a + (s2.state === "done" || s2.state === "skipped" ? 1 : s2.state === "running" ? s2.progress : 0), 0);
  return Math.min(1, Math.max(0, sum / steps.length));
}
var INTERRUPTED = { code: "internal", message: "interrupted: the process running it went away" };
async function runWorkflow(db, def, opts = {}) {
  checkWorkflow(def);
  const lockKey2 = taskLockKey(def);
  const bus = opts.bus ?? events;
  const flushMs = opts.flushMs ?? 200;
  const names = def.steps.map((s2) => s2.name);
  const host = processLabel();
  return db.withAdvisoryLock(lockKey2, async () => {
    const { id, startedAt, attempts, steps } = await claimTask(db, def, lockKey2, names, host);
    const ctl = new AbortController();
    let state2 = "running";
    let currentStep;
    let error;
    let endedAt;
    const summary = () => ({
      id,
      kind: def.kind,
      target: def.target,
      state: state2,
      progress: overallProgress(steps),
      ...currentStep ? { currentStep } : {},
      ...error ? { error } : {},
      startedAt,
      ...endedAt ? { endedAt } : {},
      attempts,
      host,
      params: def.params ?? {},
      steps: steps.map((s2) => ({ name: s2.name, state: s2.state, progress: s2.progress, ...s2.note ? { note: s2.note } : {} }))
    });
    const emit = (e) => {
      try {
        opts.onEvent?.(e);
      } catch {
      }
      bus.emit("task", e);
    };
    const emitTask = () => emit({ type: "task", task: summary() });
    let logs = [];
    const dirty = /* @__PURE__ */ new Set();
    let timer;
    let chain = Promise.resolve();
    let flushError;
    const writeBatch = async () => {
      const lines = logs;
      logs = [];
      const idxs = [...dirty];
      dirty.clear();
      if (lines.length === 0 && idxs.length === 0) return;
      await db.tx(async (q) => {
        for (const i of idxs) {
          await q.query("update task_steps set progress = $3, note = $4 where task_id = $1 and idx = $2", [id, i, steps[i].progress, steps[i].note ?? null]);
        }
        if (idxs.length) await q.query("update tasks set progress = $2 where id = $1", [id, overallProgress(steps)]);
        if (lines.length) {
          await q.query(
            `insert into task_log (task_id, at, step, line) select $1, * from unnest($2::timestamptz[], $3::int[], $4::text[])`,
            [id, lines.map((l) => l.at), lines.map((l) => l.step), lines.map((l) => l.line)]
          );
        }
      });
    };
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = void 0;
      chain = chain.then(writeBatch).catch((e) => {
        flushError ??= e;
      });
      return chain;
    };
    const schedule = () => {
      timer ??= setTimeout(() => void flush(), flushMs);
    };
    const flushed = async () => {
      await flush();
      if (flushError) throw flushError;
    };
    const logLine = (step2, line) => {
      const at = (/* @__PURE__ */ new Date()).toISOString();
      for (const l of line.split("\n")) {
        logs.push({ at, step: step2, line: l });
        emit({ type: "log", taskId: id, at, line: l });
      }
      schedule();
    };
    const stopListening = await db.listen("vlx_events", (payload) => {
      try {
        const p = JSON.parse(payload);
        if (p.type === "task" && p.id === id && p.cancel) ctl.abort(new VlxError("cancelled", `task ${id} was cancelled`));
      } catch {
      }
    });
    const onCallerAbort = () => {
      ctl.abort(new VlxError("cancelled", `task ${id} was cancelled`));
      void db.query("update tasks set cancel_requested = true where id = $1", [id]).catch(() => {
      });
    };
    if (opts.signal?.aborted) onCallerAbort();
    else opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
    try {
      emitTask();
      for (let i = 0; i < steps.length; i++) {
        const step2 = steps[i];
        if (step2.state === "done" || step2.state === "skipped") continue;
        await flushed();
        const go = await db.query(
          `update tasks set current_step = $2, progress = $3 where id = $1 and not cancel_requested returning id`,
          [id, step2.name, overallProgress(steps)]
        );
        if (go.rowCount === 0 || ctl.signal.aborted) {
          state2 = "cancelled";
          break;
        }
        currentStep = step2.name;
        step2.state = "running";
        step2.progress = 0;
        step2.note = void 0;
        await db.query(`update task_steps set state = 'running', progress = 0, note = null, started_at = now(), ended_at = null where task_id = $1 and idx = $2`, [id, i]);
        emitTask();
        const ctx = {
          taskId: id,
          signal: ctl.signal,
          log: (line) => logLine(i, line),
          progress: (fraction, note) => {
            step2.progress = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
            if (note !== void 0) step2.note = note;
            dirty.add(i);
            emitTask();
            schedule();
          }
        };
        try {
          await def.steps[i].run(ctx);
        } catch (e) {
          const err = asVlxError(e);
          await flushed();
          if (ctl.signal.aborted) {
            step2.state = "pending";
            step2.note = "interrupted by cancel";
            await db.query(`update task_steps set state = 'pending', note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, step2.note]);
            state2 = "cancelled";
            break;
          }
          step2.state = "failed";
          step2.note = err.message;
          error = { code: err.code, message: err.message, step: step2.name, ...err.hint ? { hint: err.hint } : {} };
          logLine(i, `step "${step2.name}" failed: ${err.message}`);
          await flushed();
          await db.query(`update task_steps set state = 'failed', note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, err.message]);
          state2 = "failed";
          break;
        }
        await flushed();
        step2.state = "done";
        step2.progress = 1;
        await db.query(`update task_steps set state = 'done', progress = 1, note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, step2.note ?? null]);
        emitTask();
      }
      if (state2 === "running") {
        state2 = "succeeded";
        currentStep = void 0;
      }
      if (state2 === "cancelled") logLine(null, "cancelled");
      await flushed();
      const end = await db.query(
        `update tasks set state = $2, progress = $3, current_step = $4, error = $5, ended_at = now() where id = $1 returning ended_at`,
        [id, state2, overallProgress(steps), state2 === "succeeded" ? null : currentStep ?? null, error ? JSON.stringify(error) : null]
      );
      endedAt = end.rows[0].ended_at.toISOString();
      emitTask();
      return summary();
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onCallerAbort);
      await stopListening();
    }
  });
}
async function claimTask(db, def, lockKey2, names, host) {
  return db.tx(async (q) => {
    const prior = await latestTask(q, def.kind, def.target);
    const alive = prior?.state === "running" && prior.lock_key !== lockKey2 ? await db.isLocked(prior.lock_key) : false;
    const decision = resumeDecision(prior && { state: prior.state, steps: prior.steps, alive }, names);
    if (decision === "busy") {
      throw new VlxError("conflict", `task ${prior.id} (${def.kind} ${def.target}) is still running`, "wait for it, or cancel it with `vlx tasks cancel ID`");
    }
    const resumeId = decision === "resume" ? prior.id : null;
    await q.query(
      `update tasks set state = 'failed', ended_at = now(), error = coalesce(error, $3::jsonb)
                    where lock_key = $1 and state = 'running' and id is distinct from $2::uuid`,
      [lockKey2, resumeId, JSON.stringify(INTERRUPTED)]
    );
    if (resumeId) {
      const t2 = await q.query(
        `update tasks set state = 'running', ended_at = null, error = null, cancel_requested = false, host = $2,
            attempts = attempts + 1, params = $3, lock_key = $4 where id = $1 returning started_at, attempts`,
        [resumeId, host, JSON.stringify(def.params ?? {}), lockKey2]
      );
      await q.query(`update task_steps set state = 'pending', progress = 0, note = null, started_at = null, ended_at = null
                      where task_id = $1 and state not in ('done', 'skipped')`, [resumeId]);
      const s2 = await q.query(
        "select name, state, progress, note from task_steps where task_id = $1 order by idx",
        [resumeId]
      );
      const steps = s2.rows.map((r) => ({ name: r.name, state: r.state, progress: r.progress, ...r.note ? { note: r.note } : {} }));
      const from = steps.find((x) => x.state === "pending")?.name ?? "(nothing left)";
      await q.query(
        "insert into task_log (task_id, line) values ($1, $2)",
        [resumeId, `resumed by ${host} (attempt ${t2.rows[0].attempts}), continuing at step "${from}"`]
      );
      return { id: resumeId, startedAt: t2.rows[0].started_at.toISOString(), attempts: t2.rows[0].attempts, steps };
    }
    const t = await q.query(
      `insert into tasks (kind, target, params, lock_key, host) values ($1, $2, $3, $4, $5) returning id, started_at`,
      [def.kind, def.target, JSON.stringify(def.params ?? {}), lockKey2, host]
    );
    const id = t.rows[0].id;
    await q.query(`insert into task_steps (task_id, idx, name) select $1, i - 1, n from unnest($2::text[]) with ordinality as x(n, i)`, [id, names]);
    return { id, startedAt: t.rows[0].started_at.toISOString(), attempts: 1, steps: names.map((name) => ({ name, state: "pending", progress: 0 })) };
  });
}
async function latestTask(q, kind, target) {
  const r = await q.query(
    `select t.id, t.state, t.lock_key, t.attempts,
            array(select name from task_steps s where s.task_id = t.id order by idx) as steps
       from tasks t where t.kind = $1 and t.target = $2 order by t.started_at desc limit 1`,
    [kind, target]
  );
  return r.rows[0];
}

// main/tasks/store.ts
var TASK_COLS = `t.id, t.kind, t.target, t.params, t.state, t.progress, t.current_step, t.error, t.cancel_requested,
  t.host, t.attempts, t.started_at, t.ended_at, (t.state = 'running' and not ${lockHeldSql("t.lock_key")}) as interrupted`;
function toSummary(t, steps) {
  return {
    id: t.id,
    kind: t.kind,
    target: t.target,
    state: t.state,
    progress: t.progress,
    ...t.current_step ? { currentStep: t.current_step } : {},
    ...t.error ? { error: t.error } : {},
    startedAt: t.started_at.toISOString(),
    ...t.ended_at ? { endedAt: t.ended_at.toISOString() } : {},
    attempts: t.attempts,
    host: t.host,
    params: t.params,
    interrupted: t.interrupted,
    cancelRequested: t.cancel_requested,
    steps: steps.map((s2) => ({ name: s2.name, state: s2.state, progress: s2.progress, ...s2.note ? { note: s2.note } : {} }))
  };
}
async function withSteps(q, rows) {
  if (rows.length === 0) return [];
  const steps = await q.query(
    "select task_id, name, state, progress, note from task_steps where task_id = any($1::uuid[]) order by task_id, idx",
    [rows.map((r) => r.id)]
  );
  const by = /* @__PURE__ */ new Map();
  for (const s2 of steps.rows) (by.get(s2.task_id) ?? by.set(s2.task_id, []).get(s2.task_id)).push(s2);
  return rows.map((r) => toSummary(r, by.get(r.id) ?? []));
}
async function listTasks(q, opts = {}) {
  const limit = opts.limit ?? (opts.all ? 1e4 : 20);
  const r = await q.query(
    `select ${TASK_COLS} from tasks t
      where ($1::text is null or t.kind = $1) and ($2::text is null or t.target = $2)
        and ($3 or t.state = 'running' or t.id in (select id from tasks order by started_at desc limit $4))
      order by t.started_at desc limit $5`,
    [opts.kind ?? null, opts.target ?? null, Boolean(opts.all), limit, opts.all ? limit : limit + 1e3]
  );
  return withSteps(q, r.rows);
}

// main/vc/spec.ts
import { z as z6 } from "zod";

// main/vc/subnet.ts
var DEFAULT_VC_POOL = "10.200.0.0/16";
var PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
var SUBNET_PREFIX_MIN = 16;
var SUBNET_PREFIX_MAX = 28;
var AUTO_PREFIX = 24;
var OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
var IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
var CIDR_RE = new RegExp(`^(${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET})/(3[0-2]|[12]?\\d)$`);
function ipToInt(ip, field = "address") {
  if (!IPV4_RE.test(ip)) throw invalid(field, "must be an IPv4 address like 10.200.0.2", ip);
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
function intToIp(n) {
  return [n >>> 24, n >>> 16 & 255, n >>> 8 & 255, n & 255].join(".");
}
function blockSize(prefix) {
  return 2 ** (32 - prefix);
}
function cidrLast(c) {
  return c.base + blockSize(c.prefix) - 1;
}
function parseCidr(text, field = "subnet") {
  if (typeof text !== "string" || !CIDR_RE.test(text)) {
    throw invalid(field, "must be an IPv4 CIDR like 10.200.3.0/24", text);
  }
  const [ip, p] = text.split("/");
  const prefix = Number(p);
  const addr = ipToInt(ip, field);
  const base = addr - addr % blockSize(prefix);
  if (base !== addr) {
    throw invalid(field, `has host bits set; the network is ${intToIp(base)}/${prefix}`, text);
  }
  return { base, prefix };
}
function formatCidr(c) {
  return `${intToIp(c.base)}/${c.prefix}`;
}
function cidrContains(outer, inner) {
  const lo = typeof inner === "number" ? inner : inner.base;
  const hi = typeof inner === "number" ? inner : cidrLast(inner);
  return lo >= outer.base && hi <= cidrLast(outer);
}
function cidrOverlaps(a, b) {
  return a.base <= cidrLast(b) && b.base <= cidrLast(a);
}
function isPrivate(c) {
  return PRIVATE_RANGES.some((r) => cidrContains(parseCidr(r), c));
}
function vmCapacity(prefix) {
  return Math.max(0, blockSize(prefix) - 3);
}
function autoPrefixFor(vmCount) {
  let p = AUTO_PREFIX;
  while (p > 0 && vmCapacity(p) < vmCount) p--;
  return p;
}
function checkRequestedSubnet(requested, vmCount) {
  const want = parseCidr(requested, "--subnet");
  if (!isPrivate(want)) {
    throw invalid("--subnet", `must lie inside a private range (${PRIVATE_RANGES.join(", ")})`, requested);
  }
  if (want.prefix < SUBNET_PREFIX_MIN || want.prefix > SUBNET_PREFIX_MAX) {
    throw invalid("--subnet", `must be a /${SUBNET_PREFIX_MIN} to /${SUBNET_PREFIX_MAX}`, requested);
  }
  if (vmCapacity(want.prefix) < vmCount) {
    throw invalid(
      "--subnet",
      `a /${want.prefix} has room for ${vmCapacity(want.prefix)} VMs besides the gateway; ${vmCount} needed`,
      requested
    );
  }
  return want;
}
function parseClaims(claims, field) {
  return claims.map((c) => {
    const text = typeof c === "string" ? c : c.cidr;
    return { cidr: parseCidr(text, field), text, label: typeof c === "string" ? void 0 : c.label };
  });
}
function describe(c) {
  return c.label ? `${c.text} (${c.label})` : c.text;
}
function allocateSubnet(pool, taken, reserved, requested = "auto", vmCount = 1) {
  const poolCidr = parseCidr(pool, "vcSubnetPool");
  const takenC = parseClaims(taken, "taken subnet");
  const reservedC = parseClaims(reserved, "reserved network");
  if (requested !== "auto") {
    const want = checkRequestedSubnet(requested, vmCount);
    const r = reservedC.find((c) => cidrOverlaps(c.cidr, want));
    if (r) throw invalid("--subnet", `must not overlap ${describe(r)}`, requested);
    const t = takenC.find((c) => cidrOverlaps(c.cidr, want));
    if (t) {
      throw new VlxError(
        "conflict",
        `--subnet: ${requested} overlaps ${describe(t)}, the subnet of another VC`,
        "choose another subnet or use --subnet auto"
      );
    }
    return formatCidr(want);
  }
  const prefix = autoPrefixFor(vmCount);
  if (prefix < poolCidr.prefix) {
    throw new VlxError("conflict", `--subnet: a VC of ${vmCount} VMs needs a /${prefix}, larger than the pool ${pool}`);
  }
  const size = blockSize(prefix);
  const used = [...takenC, ...reservedC].map((c) => c.cidr);
  for (let base = poolCidr.base; base + size - 1 <= cidrLast(poolCidr); base += size) {
    const cand = { base, prefix };
    const hit = used.find((u) => cidrOverlaps(u, cand));
    if (!hit) return formatCidr(cand);
    const nextFree = Math.ceil((cidrLast(hit) + 1) / size) * size;
    base = Math.max(base, nextFree - size);
  }
  throw new VlxError(
    "conflict",
    `--subnet: no free /${prefix} left in pool ${pool} (${takenC.length} VC subnets taken)`,
    "destroy a VC, enlarge vcSubnetPool in the manifest or give --subnet explicitly"
  );
}

// main/vc/spec.ts
var VC_LIMITS = {
  nodes: { flag: "--nodes", min: 1, max: 256 },
  vcpus: { flag: "--vcpus", min: 1, max: 64 },
  memMb: { flag: "--mem-mb", min: 32, max: 1048576 },
  diskGb: { flag: "--disk-gb", min: 1, max: 4096 },
  swapMb: { flag: "--swap-mb", min: 0, max: 65536 }
};
var int = (f) => z6.number().int().min(VC_LIMITS[f].min).max(VC_LIMITS[f].max);
var VcSpecSchema = z6.object({
  name: z6.string().regex(NAME_RULES.vc.re),
  nodes: int("nodes"),
  vcpus: int("vcpus"),
  memMb: int("memMb"),
  diskGb: int("diskGb"),
  swapMb: int("swapMb"),
  image: z6.string().regex(NAME_RULES.image.re),
  /** 'auto' until validateAgainstCluster resolves it to the VC's CIDR. */
  subnet: z6.string()
});
var VC_DEFAULTS = { swapMb: 0, subnet: "auto" };
function parseVcSpec(raw) {
  if (typeof raw !== "object" || raw === null) throw invalid("VC spec", "must be an object of answers", raw);
  const r = raw;
  const name = checkName("vc", r.name, "VC name");
  const num = (f) => {
    const { flag, min, max } = VC_LIMITS[f];
    const v = r[f] ?? (f === "swapMb" ? VC_DEFAULTS.swapMb : void 0);
    if (v === void 0 || v === "") throw invalid(flag, "is required");
    return checkInt(v, flag, min, max);
  };
  const nodes = num("nodes");
  const vcpus = num("vcpus");
  const memMb = num("memMb");
  const diskGb = num("diskGb");
  const swapMb = num("swapMb");
  if (r.image === void 0 || r.image === "") throw invalid("--image", "is required");
  const image = checkName("image", r.image, "--image");
  const subnetRaw = r.subnet ?? VC_DEFAULTS.subnet;
  if (typeof subnetRaw !== "string") throw invalid("--subnet", 'must be "auto" or an IPv4 CIDR', subnetRaw);
  const subnet = subnetRaw === "auto" ? "auto" : (checkRequestedSubnet(subnetRaw, nodes), subnetRaw);
  return VcSpecSchema.parse({ name, nodes, vcpus, memMb, diskGb, swapMb, image, subnet });
}
var GIB = 1024 ** 3;
function validateAgainstCluster(spec, facts) {
  if (facts.vcs.some((v) => v.name === spec.name)) {
    throw new VlxError("conflict", `VC name: a VC named "${spec.name}" already exists`, "choose another name or destroy it first");
  }
  const images = facts.images.map((i) => typeof i === "string" ? { name: i } : i);
  const image = images.find((i) => i.name === spec.image);
  if (!image) {
    const known = images.map((i) => i.name).sort();
    throw invalid(
      "--image",
      known.length > 0 ? `must be a known image (${known.join(", ")})` : "no images exist yet: build one with `vlx image build tiny`",
      spec.image
    );
  }
  if (facts.nodes.length === 0) throw new VlxError("not-found", "the cluster has no nodes to run a VC on");
  const largest = facts.nodes.reduce((a, b) => b.memMb > a.memMb ? b : a);
  if (spec.memMb > largest.memMb) {
    throw invalid("--mem-mb", `must fit in one node: the largest node memory is ${largest.memMb} MB (${largest.name})`, spec.memMb);
  }
  if (image.virtualBytes !== void 0 && spec.diskGb * GIB < image.virtualBytes) {
    const need = Math.ceil(image.virtualBytes / GIB);
    throw invalid("--disk-gb", `must be at least the size of image ${image.name} (${need} GB)`, spec.diskGb);
  }
  const taken = facts.vcs.filter((v) => typeof v.subnet === "string" && v.subnet !== "").map((v) => ({ cidr: v.subnet, label: `VC ${v.name}` }));
  const subnet = allocateSubnet(facts.pool ?? DEFAULT_VC_POOL, taken, facts.reserved ?? [], spec.subnet, spec.nodes);
  return { ...spec, subnet };
}

// main/vm/qmp.ts
import { EventEmitter } from "node:events";

// main/vm/qemuArgs.ts
var KVM_ACCEL = { accel: "kvm", cpu: "host" };
var TCG_ACCEL = { accel: "tcg", cpu: "qemu64" };
var PATH_RE = /^\/[A-Za-z0-9._/+@-]*$/;
var SOCKET_PATH_MAX = 107;
var MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
var TAP_RE = /^[a-z][a-z0-9-]{0,14}$/;
var APPEND_RE = /^[\x20-\x7e]*$/;
var APPEND_MAX = 2048;
function checkPath(value, field) {
  if (typeof value !== "string" || !PATH_RE.test(value) || value.includes("..") || value.length > 4096) {
    throw invalid(field, 'must be an absolute path of letters, digits and "._/+@-" without ".."', value);
  }
  return value;
}
function checkMac(value, field = "mac") {
  if (typeof value !== "string" || !MAC_RE.test(value)) throw invalid(field, 'must be six lowercase hex pairs separated by ":"', value);
  if ((parseInt(value.slice(0, 2), 16) & 1) === 1) throw invalid(field, "must be a unicast address (first octet even)", value);
  return value;
}
function checkTap(value, field = "tap") {
  if (typeof value !== "string" || !TAP_RE.test(value)) {
    throw invalid(field, 'must be 1-15 chars: a lowercase letter, then lowercase letters, digits or "-"', value);
  }
  return value;
}
function socketPath(dir, file, field) {
  const p = `${dir.replace(/\/+$/, "")}/${file}`;
  if (Buffer.byteLength(p) > SOCKET_PATH_MAX) throw invalid(field, `socket path must be at most ${SOCKET_PATH_MAX} bytes`, p);
  return p;
}
function vmRunFiles(runDir, name, instance) {
  checkPath(runDir, "runDir");
  checkName("vm", name);
  if (instance !== void 0 && !/^[a-z0-9]{1,8}$/.test(instance)) throw invalid("instance", "must be 1-8 lowercase letters or digits", instance);
  const base = instance ? `${name}.${instance}` : name;
  return {
    pidFile: `${runDir.replace(/\/+$/, "")}/${base}.pid`,
    qmpSocket: socketPath(runDir, `${base}.qmp`, "runDir"),
    serialSocket: socketPath(runDir, `${base}.serial`, "runDir")
  };
}
function incomingUri(inc) {
  switch (inc.kind) {
    // QEMU 7.2 has no file: migration URI; the exec: command is run by /bin/sh, and the
    // path was restricted to a character set that needs no quoting.
    case "file":
      return `exec:cat ${checkPath(inc.path, "incoming.path")}`;
    case "tcp": {
      const host = inc.host;
      if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(host) && host !== "[::]") throw invalid("incoming.host", "must be an IPv4 address", host);
      return `tcp:${host}:${checkInt(inc.port, "incoming.port", 1, 65535)}`;
    }
    case "defer":
      return "defer";
  }
}
function qemuArgs(spec, binary = "qemu-system-x86_64") {
  const name = checkName("vm", spec.name);
  const files = vmRunFiles(spec.runDir, name, spec.instance);
  const mem = checkInt(spec.memMb, "memMb", 16, 1024 * 1024);
  const cpus = checkInt(spec.vcpus, "vcpus", 1, 256);
  if (spec.accel.accel !== "kvm" && spec.accel.accel !== "tcg") throw invalid("accel", "must be kvm or tcg", spec.accel);
  const argv = [
    binary,
    "-name",
    `${name},process=qemu-${name}`,
    "-daemonize",
    "-pidfile",
    files.pidFile,
    "-qmp",
    `unix:${files.qmpSocket},server=on,wait=off`,
    "-serial",
    `unix:${files.serialSocket},server=on,wait=off`,
    "-display",
    "none",
    "-nodefaults",
    "-machine",
    `pc,accel=${spec.accel.accel}`,
    "-cpu",
    spec.accel.cpu,
    "-m",
    String(mem),
    "-smp",
    String(cpus)
  ];
  if (spec.boot.kind === "kernel") {
    const append = spec.boot.append;
    if (typeof append !== "string" || !APPEND_RE.test(append) || append.length > APPEND_MAX) {
      throw invalid("boot.append", `must be printable ASCII, at most ${APPEND_MAX} chars`, append);
    }
    argv.push("-kernel", checkPath(spec.boot.kernel, "boot.kernel"), "-initrd", checkPath(spec.boot.initrd, "boot.initrd"), "-append", append);
  }
  spec.disks.forEach((d, i) => {
    const field = `disks[${i}]`;
    if (d.format !== "qcow2" && d.format !== "raw") throw invalid(`${field}.format`, "must be qcow2 or raw", d.format);
    const id = `disk${i}`;
    argv.push("-blockdev", `driver=file,node-name=${id}f,filename=${checkPath(d.path, `${field}.path`)}${d.readOnly ? ",read-only=on" : ""}`);
    argv.push("-blockdev", `driver=${d.format},node-name=${id},file=${id}f${d.readOnly ? ",read-only=on" : ""}`);
    argv.push("-device", `virtio-blk-pci,drive=${id},id=${id}dev${i === 0 && spec.boot.kind === "disk" ? ",bootindex=0" : ""}`);
  });
  if (spec.nic) {
    const tap = checkTap(spec.nic.tap, "nic.tap");
    const mac = checkMac(spec.nic.mac, "nic.mac");
    argv.push("-netdev", `tap,id=net0,ifname=${tap},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=net0,mac=${mac}`);
  }
  if (spec.incoming) argv.push("-incoming", incomingUri(spec.incoming));
  if (spec.paused) argv.push("-S");
  return { argv, ...files };
}

// main/vm/qmp.ts
var QmpClient = class _QmpClient extends EventEmitter {
  constructor(stream, opts) {
    super();
    this.stream = stream;
    this.timeoutMs = opts.timeoutMs ?? 3e4;
    this.label = opts.label ?? "qmp";
    stream.setEncoding?.("utf8");
    stream.on("data", (chunk) => this.onData(String(chunk)));
    stream.on("error", (e) => this.fail(new VlxError("remote-failed", `${this.label}: QMP connection error: ${e.message}`)));
    stream.on("close", () => this.fail(new VlxError("remote-failed", `${this.label}: QMP connection closed`)));
    stream.on("end", () => this.fail(new VlxError("remote-failed", `${this.label}: QMP connection closed`)));
  }
  stream;
  buf = "";
  nextId = 1;
  pending = /* @__PURE__ */ new Map();
  closed;
  greetingWaiter;
  timeoutMs;
  label;
  /** Read the greeting and negotiate capabilities; the returned client is ready for commands. */
  static async connect(stream, opts = {}) {
    const client = new _QmpClient(stream, opts);
    const greeting = await client.waitGreeting();
    await client.execute("qmp_capabilities");
    return { client, greeting };
  }
  waitGreeting() {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      const timer = setTimeout(() => {
        this.greetingWaiter = void 0;
        reject(new VlxError("timeout", `${this.label}: no QMP greeting within ${this.timeoutMs} ms`));
        this.close();
      }, this.timeoutMs);
      this.greetingWaiter = {
        resolve: (g) => {
          clearTimeout(timer);
          resolve(g);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        }
      };
    });
  }
  onData(chunk) {
    this.buf += chunk;
    let nl;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }
  onMessage(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.fail(new VlxError("remote-failed", `${this.label}: QMP sent something that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    if ("QMP" in msg) {
      const w = this.greetingWaiter;
      this.greetingWaiter = void 0;
      w?.resolve(msg.QMP);
      return;
    }
    if (typeof msg.event === "string") {
      this.emit("event", msg);
      return;
    }
    const id = typeof msg.id === "string" ? msg.id : void 0;
    const p = id ? this.pending.get(id) : void 0;
    if (!p || !id) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if ("error" in msg) {
      const err = msg.error;
      p.reject(new VlxError("remote-failed", `${this.label}: ${p.command}: ${err.desc ?? "failed"}`, void 0, { qmpClass: err.class }));
    } else {
      p.resolve(msg.return);
    }
  }
  fail(e) {
    if (this.closed) return;
    this.closed = e;
    this.greetingWaiter?.reject(e);
    this.greetingWaiter = void 0;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.emit("close", e);
  }
  get isClosed() {
    return this.closed !== void 0;
  }
  /** Run one QMP command; an `error` reply rejects with the class and QEMU's description. */
  execute(command, args, opts = {}) {
    if (!/^[a-z][a-z0-9_-]*$/.test(command)) return Promise.reject(invalid("command", "must be a QMP command name", command));
    if (this.closed) return Promise.reject(this.closed);
    const id = `vlx-${this.nextId++}`;
    const ms = opts.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const p = { command, resolve, reject };
      p.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VlxError("timeout", `${this.label}: ${command}: no answer within ${ms} ms`));
      }, ms);
      this.pending.set(id, p);
      this.stream.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + "\n");
    });
  }
  /** Resolve at the next event with this name (and matching data, if a predicate is given). */
  waitEvent(name, timeoutMs, match) {
    return new Promise((resolve, reject) => {
      const onEvent = (ev) => {
        if (ev.event !== name || match && !match(ev.data ?? {})) return;
        cleanup();
        resolve(ev);
      };
      const onClose = (e) => {
        cleanup();
        reject(e ?? new VlxError("remote-failed", `${this.label}: QMP closed while waiting for ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new VlxError("timeout", `${this.label}: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off("event", onEvent);
        this.off("close", onClose);
      };
      this.on("event", onEvent);
      this.on("close", onClose);
    });
  }
  close() {
    this.fail(new VlxError("cancelled", `${this.label}: QMP connection closed by us`));
    this.stream.destroy();
  }
};
async function status(q) {
  return q.execute("query-status");
}
async function stop(q) {
  await q.execute("stop");
}
async function cont(q) {
  await q.execute("cont");
}
async function systemPowerdown(q) {
  await q.execute("system_powerdown");
}
async function quit(q) {
  try {
    await q.execute("quit");
  } catch (e) {
    if (!(e instanceof VlxError) || !q.isClosed) throw e;
  }
}
async function queryMigrate(q) {
  return q.execute("query-migrate");
}
var DEFAULT_BANDWIDTH = 10 * 1024 * 1024 * 1024;
async function migrate2(q, uri, opts = {}) {
  await q.execute("migrate-set-parameters", {
    "max-bandwidth": opts.maxBandwidth ?? DEFAULT_BANDWIDTH,
    "downtime-limit": opts.downtimeLimitMs ?? 100
  });
  await q.execute("migrate", { uri });
  const deadline = Date.now() + (opts.timeoutMs ?? 3e5);
  const poll = opts.pollMs ?? 50;
  for (; ; ) {
    const info = await queryMigrate(q);
    if (info.status === "completed") {
      return {
        status: "completed",
        totalTimeMs: info["total-time"] ?? 0,
        downtimeMs: info.downtime ?? 0,
        transferredBytes: info.ram?.transferred ?? 0
      };
    }
    if (info.status === "failed" || info.status === "cancelled") {
      throw new VlxError("remote-failed", `${q.label}: migration to ${uri} ${info.status}${info["error-desc"] ? `: ${info["error-desc"]}` : ""}`);
    }
    if (Date.now() > deadline) {
      await q.execute("migrate_cancel").catch(() => void 0);
      throw new VlxError("timeout", `${q.label}: migration to ${uri} did not finish in time (last status ${info.status})`);
    }
    await new Promise((r) => setTimeout(r, poll));
  }
}
async function saveToFile(q, path, opts = {}) {
  checkPath(path, "statePath");
  return migrate2(q, `exec:cat > ${path}`, opts);
}
async function finishRestore(q, opts = {}) {
  const deadline = Date.now() + (opts.timeoutMs ?? 12e4);
  for (; ; ) {
    const s2 = await status(q);
    if (s2.status !== "inmigrate") {
      if (s2.status === "paused" || s2.status === "postmigrate" || s2.status === "prelaunch") {
        if (opts.resume === false) return s2.status;
        await cont(q);
        return "running";
      }
      if (s2.status === "running") return s2.status;
      throw new VlxError("remote-failed", `${q.label}: restore ended in state ${s2.status}`);
    }
    const m = await queryMigrate(q);
    if (m.status === "failed") throw new VlxError("remote-failed", `${q.label}: restore failed${m["error-desc"] ? `: ${m["error-desc"]}` : ""}`);
    if (Date.now() > deadline) throw new VlxError("timeout", `${q.label}: restore did not finish in time`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
}

// main/vc/repo.ts
var ACTIVE_VM_STATES = ["starting", "running", "paused", "stopping", "saving", "restoring", "migrating"];
var VC_COLS = `name, state, vcpus, mem_mb as "memMb", disk_gb as "diskGb", swap_mb as "swapMb", image,
  subnet::text as subnet, policy, mode, options, created_at::text as "createdAt"`;
var VM_COLS = `v.vc, v.name, v.idx, host(v.ip) as ip, v.mac::text as mac, v.state, v.desired_state as "desiredState", m.node`;
async function listVcRows(q) {
  return (await q.query(`select ${VC_COLS} from vcs order by name`)).rows;
}
async function findVc(q, name) {
  return (await q.query(`select ${VC_COLS} from vcs where name = $1`, [name])).rows[0];
}
async function getVc(q, name) {
  const vc = await findVc(q, name);
  if (!vc) throw new VlxError("not-found", `no VC named "${name}"`, "see `vlx vc list`");
  return vc;
}
async function vmsOf(q, vc) {
  return (await q.query(
    `select ${VM_COLS} from vms v left join mapping m on m.vc = v.vc and m.vm = v.name where v.vc = $1 order by v.idx`,
    [vc]
  )).rows;
}
async function allVms(q) {
  return (await q.query(
    `select ${VM_COLS} from vms v left join mapping m on m.vc = v.vc and m.vm = v.name order by v.vc, v.idx`
  )).rows;
}
async function setVcState(q, vc, state2, extra = {}) {
  await q.query(
    `update vcs set state = $2, policy = coalesce($3, policy), mode = coalesce($4, mode) where name = $1`,
    [vc, state2, extra.policy ?? null, extra.mode ?? null]
  );
}
async function setVmState(q, vc, vms, state2, desired) {
  if (vms.length === 0) return;
  await q.query(
    `update vms set state = $3, desired_state = coalesce($4, desired_state) where vc = $1 and name = any($2::text[])`,
    [vc, vms, state2, desired ?? null]
  );
}
async function setMapping(q, vc, mapping) {
  const vms = Object.keys(mapping);
  if (vms.length === 0) return;
  await q.query(
    `insert into mapping (vc, vm, node) select $1, u.vm, u.node from unnest($2::text[], $3::text[]) as u(vm, node)
     on conflict (vc, vm) do update set node = excluded.node, since = case when mapping.node = excluded.node then mapping.since else now() end`,
    [vc, vms, vms.map((v) => mapping[v])]
  );
}
async function clearMapping(q, vc, vms) {
  if (vms) await q.query(`delete from mapping where vc = $1 and vm = any($2::text[])`, [vc, vms]);
  else await q.query(`delete from mapping where vc = $1`, [vc]);
}
async function listNodeRows(q) {
  return (await q.query(`select name, address, cores, mem_mb as "memMb", state from nodes order by name`)).rows;
}
async function upsertNodes(q, nodes) {
  if (nodes.length === 0) return;
  await q.query(
    `insert into nodes (name, address, cores, mem_mb, state, last_seen)
       select u.name, u.address, u.cores, u.mem, u.state, case when u.state = 'up' then now() end
       from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[]) as u(name, address, cores, mem, state)
     on conflict (name) do update set address = excluded.address, cores = excluded.cores, mem_mb = excluded.mem_mb,
       state = excluded.state, last_seen = coalesce(excluded.last_seen, nodes.last_seen)`,
    [nodes.map((n) => n.name), nodes.map((n) => n.address), nodes.map((n) => n.cores), nodes.map((n) => n.memMb), nodes.map((n) => n.state)]
  );
}
async function nodeUsage(q, exceptVc) {
  const r = await q.query(
    `select m.node, sum(c.vcpus)::int as cores, sum(c.mem_mb)::int as mem
       from mapping m join vms v on v.vc = m.vc and v.name = m.vm join vcs c on c.name = v.vc
      where v.state = any($1::text[]) and ($2::text is null or v.vc <> $2)
      group by m.node`,
    [[...ACTIVE_VM_STATES], exceptVc ?? null]
  );
  return new Map(r.rows.map((x) => [x.node, { cores: x.cores, memMb: x.mem }]));
}
async function upsertImage(q, img) {
  await q.query(
    `insert into images (name, kind, files, cmdline, virtual_bytes, allocated_bytes) values ($1, $2, $3, $4, $5, $6)
     on conflict (name) do update set kind = excluded.kind, files = excluded.files, cmdline = excluded.cmdline,
       virtual_bytes = coalesce(excluded.virtual_bytes, images.virtual_bytes), allocated_bytes = coalesce(excluded.allocated_bytes, images.allocated_bytes)`,
    [img.name, img.kind, JSON.stringify(img.files), img.cmdline, img.virtualBytes ?? null, img.allocatedBytes ?? null]
  );
}
async function insertVolumes(q, vols) {
  if (vols.length === 0) return;
  const col = (k) => vols.map((v) => v[k]);
  await q.query(
    `insert into volumes (path, kind, format, backing, vc, vm, virtual_bytes, allocated_bytes)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
     on conflict (path) do nothing`,
    [col("path"), col("kind"), col("format"), col("backing"), col("vc"), col("vm"), col("virtualBytes"), col("allocatedBytes")]
  );
}
async function deleteVolumes(q, paths) {
  if (paths.length === 0) return;
  await q.query(`delete from volumes where path = any($1::text[])`, [paths]);
}
async function volumesOf(q, vc) {
  return (await q.query(
    `select path, kind, vc, vm, node from volumes where ($1::text is null or vc = $1) order by path`,
    [vc ?? null]
  )).rows;
}
async function supersedeTasks(q, vc, kind) {
  const r = await q.query(
    `with stale as (
       update tasks set state = 'cancelled', ended_at = coalesce(ended_at, now()),
              error = jsonb_build_object('code', 'cancelled', 'message', 'superseded by a later ' || $2::text || ' of VC ' || $1::text)
        where (target = $1 or left(target, length($1) + 1) = $1 || '/') and kind <> $2 and state <> 'succeeded'
          and exists (select 1 from task_steps s where s.task_id = tasks.id and s.state <> 'pending')
        returning id)
     update task_steps set state = 'pending', progress = 0, note = null, started_at = null, ended_at = null
      where task_id in (select id from stale)`,
    [vc, kind]
  );
  return r.rowCount ?? 0;
}

// main/vc/env.ts
function openVcEnv(clusterName, parts = {}) {
  const cluster = getCluster(clusterName);
  return {
    cluster,
    session: parts.session ?? openCluster(cluster),
    db: parts.db ?? openClusterDb(cluster),
    paths: storagePaths()
  };
}
async function closeVcEnv(env) {
  await Promise.allSettled([env.session.close(), env.db.close()]);
}
async function runScript(conn, script, timeoutMs = 12e4) {
  return conn.run("sh -e", { stdin: script, timeoutMs });
}
async function openQmp(conn, socket, label) {
  const stream = await conn.openUnixSocket(socket);
  const { client } = await QmpClient.connect(stream, { label, timeoutMs: 3e4 });
  return client;
}
async function openSerial(conn, socket, label) {
  return new SerialConsole(await conn.openUnixSocket(socket), label);
}
async function reservedNetworks(env) {
  const conn = await env.session.any();
  const r = await conn.exec(sh("cat", env.paths.manifest));
  if (r.code === 0) {
    const m = Manifest.safeParse(JSON.parse(r.stdout));
    if (m.success) return [{ cidr: m.data.clusterNetwork, label: "the cluster network" }];
  }
  const nets = /* @__PURE__ */ new Set();
  for (const n of env.session.nodes()) {
    if (isIPv4(n.address)) nets.add(`${n.address.split(".").slice(0, 3).join(".")}.0/24`);
  }
  return [...nets].map((cidr) => ({ cidr, label: "the cluster network" }));
}
async function vcSubnetPool(env) {
  const conn = await env.session.any();
  const r = await conn.exec(sh("cat", env.paths.manifest));
  if (r.code === 0) {
    const m = Manifest.safeParse(JSON.parse(r.stdout));
    if (m.success) return m.data.vcSubnetPool;
  }
  return "10.200.0.0/16";
}
async function refreshNodes(env) {
  const results = await env.session.onNodes("all", sh("cat", "/etc/virtualinux/node.json"), { timeoutMs: 5e3 });
  const known = new Map((await listNodeRows(env.db)).map((n) => [n.name, n]));
  const rows = [];
  for (const r of results) {
    const alive = r.code === 0;
    let cores = known.get(r.node)?.cores;
    let memMb = known.get(r.node)?.memMb;
    if (alive) {
      try {
        const j = JSON.parse(r.stdout);
        cores = j.cores ?? cores;
        memMb = j.memMb ?? memMb;
      } catch {
      }
    }
    if (!cores || !memMb) {
      if (!alive) continue;
      throw new VlxError("not-found", `node ${r.node} declares no capacity`, 'write {"cores":N,"memMb":M} to /etc/virtualinux/node.json on it');
    }
    rows.push({ name: r.node, address: r.address, cores, memMb, state: alive ? "up" : "down", alive });
  }
  await upsertNodes(env.db, rows);
  return rows;
}
async function placementNodes(env, q, exceptVc) {
  const nodes = await refreshNodes(env);
  const usage = await nodeUsage(q, exceptVc);
  const order = env.session.nodes().map((n) => n.name);
  return nodes.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)).map((n) => ({
    name: n.name,
    cores: n.cores,
    memMb: n.memMb,
    usedCores: usage.get(n.name)?.cores ?? 0,
    usedMemMb: usage.get(n.name)?.memMb ?? 0,
    alive: n.alive
  }));
}
function nodeAddress(env, node) {
  checkName("node", node);
  const n = env.session.nodes().find((x) => x.name === node);
  if (!n) throw new VlxError("not-found", `cluster ${env.cluster.name} has no node "${node}"`);
  return n.address;
}
async function eachParallel(items, fn, label) {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results.map((r, i) => r.status === "rejected" ? `${label(items[i])}: ${r.reason?.message ?? String(r.reason)}` : void 0).filter((x) => x !== void 0);
  if (failed.length === 1) {
    const r = results.find((x) => x.status === "rejected");
    if (r.reason instanceof VlxError) throw new VlxError(r.reason.code, `${failed[0]}`, r.reason.hint, r.reason.details);
  }
  if (failed.length > 0) throw new VlxError("remote-failed", failed.join("\n"));
}

// main/placement/place.ts
var LISTED = 8;
function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
function list(items) {
  return items.length <= LISTED ? items.join(", ") : `${items.slice(0, LISTED).join(", ")}, \u2026`;
}
var freeCores = (f) => Math.max(0, f.cores);
function checkInputs(vms, nodes) {
  const posInt = (v, field, min) => {
    if (!Number.isInteger(v) || v < min) throw invalid(field, `must be a whole number of at least ${min}`, v);
  };
  const vmNames = /* @__PURE__ */ new Set();
  for (const vm of vms) {
    if (typeof vm.name !== "string" || vm.name === "") throw invalid("VM name", "must be a non-empty string", vm.name);
    if (vmNames.has(vm.name)) throw invalid("VM name", "must be unique", vm.name);
    vmNames.add(vm.name);
    posInt(vm.vcpus, `vcpus of ${vm.name}`, 1);
    posInt(vm.memMb, `memory of ${vm.name}`, 1);
  }
  const nodeNames = /* @__PURE__ */ new Set();
  for (const n of nodes) {
    if (typeof n.name !== "string" || n.name === "") throw invalid("node name", "must be a non-empty string", n.name);
    if (nodeNames.has(n.name)) throw invalid("node name", "must be unique", n.name);
    nodeNames.add(n.name);
    posInt(n.cores, `cores of ${n.name}`, 1);
    posInt(n.memMb, `memory of ${n.name}`, 1);
    posInt(n.usedCores, `used cores of ${n.name}`, 0);
    posInt(n.usedMemMb, `used memory of ${n.name}`, 0);
  }
}
function fits(f, vm, mode) {
  return vm.memMb <= f.memMb && (mode === "free" || vm.vcpus <= f.cores);
}
function take(f, vm) {
  f.cores -= vm.vcpus;
  f.memMb -= vm.memMb;
}
function downSuffix(nodes) {
  const down = nodes.filter((n) => !n.alive).map((n) => n.name);
  if (down.length === 0) return "";
  return down.length === 1 ? `; ${down[0]} is down` : `; down: ${list(down)}`;
}
function shortfall(vm, live, mode, nodes) {
  const mostMem = live.reduce((a, b) => b.memMb > a.memMb ? b : a);
  if (mostMem.memMb < vm.memMb) {
    return `placement: ${vm.name} needs ${vm.memMb} MB of memory; the largest free memory on a live node is ${Math.max(0, mostMem.memMb)} MB (${mostMem.node.name})${downSuffix(nodes)}`;
  }
  const mostCores = Math.max(...live.map(freeCores));
  if (mostCores < vm.vcpus) {
    return `strict placement: ${vm.name} needs ${plural(vm.vcpus, "free core")} on one node; the most on a live node is ${mostCores} (${list(live.map((f) => `${f.node.name}: ${freeCores(f)}`))})${downSuffix(nodes)}`;
  }
  return `strict placement: no live node has both ${plural(vm.vcpus, "free core")} and ${vm.memMb} MB of free memory for ${vm.name} (${list(live.map((f) => `${f.node.name}: ${plural(freeCores(f), "core")}, ${Math.max(0, f.memMb)} MB`))})` + downSuffix(nodes);
}
function place(vms, nodes, policy, mode, opts = {}) {
  if (policy !== "block" && policy !== "cyclic") throw invalid("--policy", "must be block or cyclic", policy);
  if (mode !== "strict" && mode !== "free") throw invalid("--mode", "must be strict or free", mode);
  checkInputs(vms, nodes);
  const mapping = {};
  if (vms.length === 0) return { mapping };
  const free = nodes.map((node) => ({ node, cores: node.cores - node.usedCores, memMb: node.memMb - node.usedMemMb }));
  const live = free.filter((f) => f.node.alive);
  if (live.length === 0) {
    throw new VlxError("placement", `placement: no live node to place ${plural(vms.length, "VM")} on${downSuffix(nodes)}`);
  }
  const pinned = opts.pinned ?? {};
  const byName = new Map(vms.map((vm) => [vm.name, vm]));
  for (const [vmName2, nodeName] of Object.entries(pinned)) {
    const vm = byName.get(vmName2);
    if (!vm) throw invalid("pinned VM", "must be one of the VMs being placed", vmName2);
    const f = free.find((x) => x.node.name === nodeName);
    if (!f) throw new VlxError("placement", `placement: ${vmName2} is pinned to ${nodeName}, which is not a node of this cluster`);
    if (!f.node.alive) throw new VlxError("placement", `placement: ${vmName2} is pinned to ${nodeName}, which is down`);
    if (vm.memMb > f.memMb) {
      throw new VlxError(
        "placement",
        `placement: ${vmName2} is pinned to ${nodeName}, which has ${Math.max(0, f.memMb)} MB of free memory; it needs ${vm.memMb} MB`
      );
    }
    if (mode === "strict" && vm.vcpus > f.cores) {
      throw new VlxError(
        "placement",
        `strict placement: ${vmName2} is pinned to ${nodeName}, which has ${plural(freeCores(f), "free core")}; it needs ${vm.vcpus}`
      );
    }
    take(f, vm);
    mapping[vmName2] = nodeName;
  }
  const rest = vms.filter((vm) => !(vm.name in pinned));
  if (rest.length === 0) return { mapping };
  if (mode === "strict") {
    const need = rest.reduce((s2, vm) => s2 + vm.vcpus, 0);
    const have = live.reduce((s2, f) => s2 + freeCores(f), 0);
    if (need > have) {
      throw new VlxError(
        "placement",
        `strict placement needs ${plural(need, "free core")} for ${plural(rest.length, "VM")}; only ${have} free (${list(live.map((f) => `${f.node.name}: ${freeCores(f)}`))})${downSuffix(nodes)}`,
        "use --mode free to over-commit cores, stop another VC, or give the VMs fewer vCPUs"
      );
    }
  }
  const needMem = rest.reduce((s2, vm) => s2 + vm.memMb, 0);
  const haveMem = live.reduce((s2, f) => s2 + Math.max(0, f.memMb), 0);
  if (needMem > haveMem) {
    throw new VlxError(
      "placement",
      `placement needs ${needMem} MB of memory for ${plural(rest.length, "VM")}; only ${haveMem} MB free (${list(live.map((f) => `${f.node.name}: ${Math.max(0, f.memMb)} MB`))})${downSuffix(nodes)}`,
      "stop another VC or give the VMs less memory"
    );
  }
  let next = 0;
  for (const vm of rest) {
    let chosen = -1;
    if (policy === "block") {
      chosen = live.findIndex((f) => fits(f, vm, mode));
    } else {
      for (let k = 0; k < live.length; k++) {
        const i = (next + k) % live.length;
        if (fits(live[i], vm, mode)) {
          chosen = i;
          break;
        }
      }
      if (chosen >= 0) next = chosen + 1;
    }
    if (chosen < 0) throw new VlxError("placement", shortfall(vm, live, mode, nodes));
    take(live[chosen], vm);
    mapping[vm.name] = live[chosen].node.name;
  }
  return { mapping };
}
function moveRefusal(vm, target, nodes, mode) {
  const prefix = `cannot move ${vm.name} to ${target}`;
  const n = nodes.find((x) => x.name === target);
  if (!n) return `${prefix}: ${target} is not a node of this cluster`;
  if (vm.node === target) return `${prefix}: it already runs there`;
  if (!n.alive) return `${prefix}: ${target} is down`;
  const freeMem = n.memMb - n.usedMemMb;
  if (vm.memMb > freeMem) return `${prefix}: ${target} has ${Math.max(0, freeMem)} MB of free memory; ${vm.name} needs ${vm.memMb} MB`;
  const cores = Math.max(0, n.cores - n.usedCores);
  if (mode === "strict" && vm.vcpus > cores) {
    return `${prefix}: strict mode and ${target} has ${plural(cores, "free core")}; ${vm.name} needs ${vm.vcpus}`;
  }
  return null;
}
function checkMove(vm, target, nodes, mode) {
  const why = moveRefusal(vm, target, nodes, mode);
  if (why !== null) throw new VlxError("placement", why);
}

// main/vc/addressing.ts
import { posix as posix2 } from "node:path";
var UNIX_SOCKET_PATH_MAX = 107;
var VM_NAME = /^vm([1-9]\d{0,3})$/;
function vmName(index) {
  return `vm${checkInt(index, "VM index", 1, 9999)}`;
}
function vmIndex(name) {
  const m = VM_NAME.exec(name);
  if (!m) throw invalid("VM name", "must be vm followed by its index, like vm3", name);
  return Number(m[1]);
}
function gatewayIp(subnet) {
  return intToIp(parseCidr(subnet).base + 1);
}
function vmIp(subnet, index) {
  const c = parseCidr(subnet);
  checkInt(index, "VM index", 1, vmCapacity(c.prefix));
  return intToIp(c.base + 1 + index);
}
function macFromIp(first, second, ip) {
  const n = ipToInt(ip);
  return [first, second, n >>> 24, n >>> 16 & 255, n >>> 8 & 255, n & 255].map((b) => b.toString(16).padStart(2, "0")).join(":");
}
function vmMac(ip) {
  return macFromIp(10, 0, ip);
}
function tapMac(ip) {
  return macFromIp(10, 1, ip);
}
function tapName(ip) {
  return `vt${ipToInt(ip).toString(16).padStart(8, "0")}`;
}
function vmAddress(vc, subnet, index) {
  checkName("vc", vc, "VC name");
  const ip = vmIp(subnet, index);
  return {
    index,
    name: vmName(index),
    ip,
    prefix: parseCidr(subnet).prefix,
    gateway: gatewayIp(subnet),
    mac: vmMac(ip),
    tap: tapName(ip),
    tapMac: tapMac(ip)
  };
}
function vcAddresses(vc, subnet, count) {
  const cap = vmCapacity(parseCidr(subnet).prefix);
  checkInt(count, "VM count", 1, cap);
  return Array.from({ length: count }, (_, i) => vmAddress(vc, subnet, i + 1));
}
function vmRuntimePaths(vc, vm, runDir = NODE_RUN) {
  checkName("vc", vc, "VC name");
  checkName("vm", vm, "VM name");
  const dir = posix2.join(runDir, "vm", vc);
  const paths = {
    dir,
    qmp: posix2.join(dir, `${vm}.qmp`),
    serial: posix2.join(dir, `${vm}.serial`),
    pid: posix2.join(dir, `${vm}.pid`)
  };
  if (Buffer.byteLength(paths.serial) > UNIX_SOCKET_PATH_MAX) {
    throw invalid("runtime directory", `makes socket paths longer than ${UNIX_SOCKET_PATH_MAX} bytes`, runDir);
  }
  return paths;
}

// main/vc/scripts.ts
function renderOverlayScript(b) {
  checkPath(b.vcDir, "vcDir");
  checkPath(b.shared, "shared");
  checkPath(b.image, "image");
  const disk = checkInt(b.diskGb, "--disk-gb", 1, 1 << 20);
  const swap = checkInt(b.swapMb, "--swap-mb", 0, 1 << 30);
  const tmp = `${b.vcDir}/.new`;
  const lines = [
    sh("mkdir", "-p", b.vcDir, b.shared),
    sh("rm", "-rf", tmp),
    sh("mkdir", tmp),
    "disks=",
    "swaps="
  ];
  for (const vm of b.vms) {
    checkName("vm", vm.name);
    lines.push(`[ -e ${sh(checkPath(vm.disk, "disk"))} ] || disks="$disks "${sh(`${tmp}/${vm.name}.qcow2`)}`);
    if (swap > 0) lines.push(`[ -e ${sh(checkPath(vm.swap, "swap"))} ] || swaps="$swaps "${sh(`${tmp}/${vm.name}.swap.qcow2`)}`);
  }
  lines.push(
    'if [ -n "$disks" ]; then',
    `  ${sh("qemu-img", "create", "-q", "-f", "qcow2", "-b", b.image, "-F", "qcow2", `${tmp}/disk.tpl`, `${disk}G`)}`,
    `  tee $disks < ${sh(`${tmp}/disk.tpl`)} > /dev/null`,
    `  ${sh("rm", `${tmp}/disk.tpl`)}`,
    "fi",
    'if [ -n "$swaps" ]; then',
    `  ${sh("qemu-img", "create", "-q", "-f", "qcow2", `${tmp}/swap.tpl`, `${swap}M`)}`,
    `  tee $swaps < ${sh(`${tmp}/swap.tpl`)} > /dev/null`,
    `  ${sh("rm", `${tmp}/swap.tpl`)}`,
    "fi",
    // One mv for all of them: a process per file would cost as much as qemu-img per file.
    `set -- ${sh(tmp)}/*; if [ -e "$1" ]; then mv "$@" ${sh(`${b.vcDir}/`)}; fi`,
    sh("rmdir", tmp),
    // The allocated size of one overlay (all are the same) for the volumes table.
    `stat -c %s ${sh(b.vms[0]?.disk ?? b.image)}`
  );
  return lines.join("\n") + "\n";
}
var ALIVE_FN = [
  "vlx_alive() {",
  '  [ -s "$1" ] || return 1',
  '  p=$(cat "$1") || return 1',
  '  [ -r "/proc/$p/cmdline" ] || return 1',
  // The pid file path is unique per VC/VM on a node; a reused pid belongs to another program.
  '  tr "\\000" " " < "/proc/$p/cmdline" | grep -qF -- "$1"',
  "}"
];
function tapLines(t) {
  return [
    `ip link show dev ${sh(t.tap)} > /dev/null 2>&1 || ${sh("ip", "tuntap", "add", "dev", t.tap, "mode", "tap")}`,
    sh("ip", "link", "set", "dev", t.tap, "address", t.tapMac),
    sh("ip", "addr", "replace", `${t.gateway}/32`, "dev", t.tap),
    sh("ip", "link", "set", "dev", t.tap, "up"),
    // The guest's peers are on-link for it: the node answers their ARP and routes them.
    `echo 1 > ${sh(`/proc/sys/net/ipv4/conf/${t.tap}/proxy_arp`)}`
  ];
}
function renderLaunchScript(vms) {
  const lines = [...ALIVE_FN];
  for (const vm of vms) {
    checkName("vm", vm.name);
    lines.push(
      `${sh("mkdir", "-p", vm.runDir)}`,
      `if vlx_alive ${sh(vm.pidFile)}; then echo ${sh(`already ${vm.name}`)}; else`,
      ...tapLines(vm).map((l) => `  ${l}`),
      `  ${sh("rm", "-f", vm.qmp, vm.serial, vm.pidFile)}`,
      `  ${sh(...vm.argv)}`,
      `  echo ${sh(`started ${vm.name}`)}`,
      "fi"
    );
  }
  return lines.join("\n") + "\n";
}
function renderHaltScript(vms, opts = {}) {
  const lines = [...ALIVE_FN];
  for (const vm of vms) {
    checkName("vm", vm.name);
    lines.push(
      `if vlx_alive ${sh(vm.pidFile)}; then kill -9 "$(cat ${sh(vm.pidFile)})"; echo ${sh(`killed ${vm.name}`)};`,
      // SIGKILL is delivered at once but the process lingers until the kernel reaps it.
      `  i=0; while vlx_alive ${sh(vm.pidFile)} && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; fi`,
      sh("rm", "-f", vm.pidFile, vm.qmp, vm.serial)
    );
    if (!opts.keepTap) lines.push(`ip link show dev ${sh(vm.tap)} > /dev/null 2>&1 && ${sh("ip", "link", "del", "dev", vm.tap)} || true`);
  }
  return lines.join("\n") + "\n";
}
function renderScanScript(runRoot) {
  checkPath(runRoot, "runRoot");
  return [
    ...ALIVE_FN,
    `for f in ${sh(`${runRoot}/vm`)}/*/*.pid; do`,
    '  [ -e "$f" ] || continue',
    '  vm=$(basename "$f" .pid); vc=$(basename "$(dirname "$f")")',
    '  if vlx_alive "$f"; then echo "$vc $vm $(cat "$f")"; fi',
    "done"
  ].join("\n") + "\n";
}
function parseScan(stdout) {
  const out = [];
  for (const line of stdout.split("\n")) {
    const m = /^([a-z][a-z0-9-]*) ([a-z][a-z0-9-]*) (\d+)$/.exec(line.trim());
    if (m) out.push({ vc: m[1], vm: m[2], pid: Number(m[3]) });
  }
  return out;
}
function renderWaitGoneScript(pidFile, seconds) {
  const tenths = checkInt(seconds, "timeout", 0, 3600) * 10;
  return [
    ...ALIVE_FN,
    `i=0; while vlx_alive ${sh(pidFile)} && [ $i -lt ${tenths} ]; do sleep 0.1; i=$((i+1)); done`,
    `if vlx_alive ${sh(pidFile)}; then echo alive; else echo gone; fi`
  ].join("\n") + "\n";
}

// main/vc/network.ts
import { execFile } from "node:child_process";
import { promisify } from "node:util";

// main/vc/routes.ts
var ROUTE_PROTO = 77;
var ROUTE_LIST_ARGV = ["ip", "-j", "route", "show", "proto", String(ROUTE_PROTO)];
var TAP = /^[A-Za-z0-9_.-]{1,15}$/;
function byDst(a, b) {
  return ipToInt(a.dst.split("/")[0]) - ipToInt(b.dst.split("/")[0]);
}
function desiredRoutes(vms, nodes, extraHosts = []) {
  const address = /* @__PURE__ */ new Map();
  for (const n of nodes) {
    checkName("node", n.name, "node name");
    if (!isIPv4(n.address)) throw invalid(`address of ${n.name}`, "must be an IPv4 address to route via", n.address);
    if (address.has(n.name)) throw invalid("node name", "must be unique", n.name);
    address.set(n.name, n.address);
  }
  const out = {};
  for (const n of nodes) out[n.name] = [];
  for (const h of extraHosts) {
    checkName("node", h, "host name");
    if (h in out) throw invalid("host name", "must differ from every node name and each other", h);
    out[h] = [];
  }
  const seen = /* @__PURE__ */ new Set();
  for (const vm of vms) {
    if (!isIPv4(vm.ip)) throw invalid("VM address", "must be an IPv4 address", vm.ip);
    if (seen.has(vm.ip)) throw invalid("VM address", "must be unique in the cluster", vm.ip);
    seen.add(vm.ip);
    if (!TAP.test(vm.tap)) throw invalid("tap name", 'must be 1-15 chars of letters, digits, ".", "_" or "-"', vm.tap);
    const via = address.get(vm.node);
    if (via === void 0) throw invalid("VM node", "must be a node of the cluster", vm.node);
    const dst = `${vm.ip}/32`;
    for (const host of Object.keys(out)) {
      out[host].push(host === vm.node ? { dst, dev: vm.tap } : { dst, via });
    }
  }
  for (const host of Object.keys(out)) out[host].sort(byDst);
  return out;
}
function parseRoutes(json) {
  const text = json.trim();
  if (text === "") return [];
  let rows;
  try {
    rows = JSON.parse(text);
  } catch {
    throw invalid("route list", "must be the JSON output of ip -j route show", text.slice(0, 80));
  }
  if (!Array.isArray(rows)) throw invalid("route list", "must be a JSON array", text.slice(0, 80));
  const out = [];
  for (const r of rows) {
    const raw = String(r.dst ?? "");
    const dst = raw.includes("/") ? raw : `${raw}/32`;
    if (typeof r.gateway === "string") out.push({ dst, via: r.gateway });
    else if (typeof r.dev === "string") out.push({ dst, dev: r.dev });
  }
  return out.sort(byDst);
}
function same(a, b) {
  if (a.dst !== b.dst) return false;
  if ("dev" in a && "dev" in b) return a.dev === b.dev;
  if ("via" in a && "via" in b) return a.via === b.via;
  return false;
}
function routeArgv(action, route) {
  if (action === "delete") return ["ip", "route", "del", route.dst, "proto", String(ROUTE_PROTO)];
  const next = "dev" in route ? ["dev", route.dev] : ["via", route.via];
  return ["ip", "route", "replace", route.dst, ...next, "proto", String(ROUTE_PROTO)];
}
function diffRoutes(current, desired) {
  const have = new Map(current.map((r) => [r.dst, r]));
  const want = new Map(desired.map((r) => [r.dst, r]));
  const changes = [];
  for (const r of [...want.values()].sort(byDst)) {
    const h = have.get(r.dst);
    if (!h || !same(h, r)) changes.push({ action: "replace", route: r, argv: routeArgv("replace", r) });
  }
  for (const r of [...have.values()].sort(byDst)) {
    if (!want.has(r.dst)) changes.push({ action: "delete", route: r, argv: routeArgv("delete", r) });
  }
  return changes;
}

// main/vc/nft.ts
var NFT_TABLE = "vlx";
var MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
var TAP2 = /^[A-Za-z0-9_.-]{1,15}$/;
var RESET = [
  `table inet ${NFT_TABLE} {}`,
  `delete table inet ${NFT_TABLE}`,
  `table arp ${NFT_TABLE} {}`,
  `delete table arp ${NFT_TABLE}`
];
function renderNodeFirewall(fw) {
  const subnets = /* @__PURE__ */ new Map();
  for (const vc of fw.vcs) {
    checkName("vc", vc.name, "VC name");
    if (subnets.has(vc.name)) throw invalid("VC name", "must appear once", vc.name);
    subnets.set(vc.name, parseCidr(vc.subnet, `subnet of ${vc.name}`));
  }
  const taps = /* @__PURE__ */ new Set();
  for (const vm of fw.vms) {
    const net = subnets.get(vm.vc);
    if (!net) throw invalid("VM VC", "must be one of the VCs given", vm.vc);
    if (!isIPv4(vm.ip) || !cidrContains(net, ipToInt(vm.ip))) {
      throw invalid("VM address", `must be an IPv4 address inside ${formatCidr(net)}`, vm.ip);
    }
    if (!MAC.test(vm.mac)) throw invalid("VM MAC", 'must be six lowercase hex pairs joined by ":"', vm.mac);
    if (!TAP2.test(vm.tap)) throw invalid("tap name", 'must be 1-15 chars of letters, digits, ".", "_" or "-"', vm.tap);
    if (taps.has(vm.tap)) throw invalid("tap name", "must be unique on a node", vm.tap);
    taps.add(vm.tap);
  }
  const nets = [...subnets.values()].sort((a, b) => a.base - b.base).map(formatCidr);
  const vms = [...fw.vms].sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
  const lines = [
    "# VirtuaLinux Manager: VC insulation and anti-spoofing for this node. Generated: edit the VCs, not this file.",
    ...RESET,
    `table inet ${NFT_TABLE} {`,
    "	set vc_nets {",
    "		type ipv4_addr",
    "		flags interval",
    ...nets.length > 0 ? [`		elements = { ${nets.join(", ")} }`] : [],
    "	}",
    "",
    "	chain prerouting {",
    "		type filter hook prerouting priority raw; policy accept;"
  ];
  for (const vm of vms) {
    const tap = `"${vm.tap}"`;
    lines.push(
      `		iifname ${tap} ether saddr != ${vm.mac} drop`,
      `		iifname ${tap} meta nfproto != ipv4 drop`,
      `		iifname ${tap} ip saddr != ${vm.ip} drop`
    );
  }
  lines.push(
    "	}",
    "",
    "	chain forward {",
    "		type filter hook forward priority filter; policy accept;"
  );
  for (const net of nets) lines.push(`		ip saddr ${net} ip daddr @vc_nets ip daddr != ${net} drop`);
  lines.push(
    "	}",
    "}",
    `table arp ${NFT_TABLE} {`,
    "	chain input {",
    "		type filter hook input priority filter; policy accept;"
  );
  for (const vm of vms) {
    const tap = `"${vm.tap}"`;
    lines.push(
      `		iifname ${tap} arp saddr ether != ${vm.mac} drop`,
      `		iifname ${tap} arp saddr ip != ${vm.ip} drop`
    );
  }
  lines.push("	}", "}");
  return `${lines.join("\n")}
`;
}

// main/vc/network.ts
var run = promisify(execFile);
var WORKSTATION = "workstation";
async function syncNetwork(env, opts = {}) {
  return env.db.withAdvisoryLock("net", async (q) => {
    const vcs = (await listVcRows(q)).map((v) => ({ name: v.name, subnet: v.subnet }));
    const active2 = new Set(ACTIVE_VM_STATES);
    const everything = await allVms(q);
    const vms = everything.filter((v) => v.node && active2.has(v.state));
    const hosted = vms.map((v) => ({ ip: v.ip, node: v.node, tap: tapName(v.ip) }));
    const nodes = env.session.nodes();
    const extraHosts = env.cluster.lab ? [WORKSTATION] : [];
    const desired = desiredRoutes(hosted, nodes, extraHosts);
    const listed = await env.session.onNodes("all", sh(...ROUTE_LIST_ARGV), { timeoutMs: 1e4 });
    const skipped = listed.filter((r) => r.code !== 0).map((r) => r.node);
    const changes = {};
    await Promise.all(listed.filter((r) => r.code === 0).map(async (r) => {
      const diff = diffRoutes(parseRoutes(r.stdout), desired[r.node] ?? []);
      const onNode = vms.filter((v) => v.node === r.node).map((v) => ({ vc: v.vc, ip: v.ip, mac: v.mac, tap: tapName(v.ip) }));
      for (const x of opts.extraTaps ?? []) {
        const row = everything.find((v) => v.vc === x.vc && v.name === x.vm);
        if (x.node !== r.node || !row || onNode.some((v) => v.tap === tapName(row.ip))) continue;
        onNode.push({ vc: row.vc, ip: row.ip, mac: row.mac, tap: tapName(row.ip) });
      }
      const nft = renderNodeFirewall({ vcs, vms: onNode });
      const script = [
        // A tap that is gone makes `ip route replace … dev TAP` fail: such a route waits for the next sync.
        ...diff.map((c) => `${sh(...c.argv)} || echo ${sh(`route-failed ${c.route.dst}`)}`),
        "nft -f - <<'VLX_NFT_EOF'",
        nft.trimEnd(),
        "VLX_NFT_EOF"
      ].join("\n") + "\n";
      const conn = await env.session.node(r.node);
      const out = await runScript(conn, script, 3e4);
      for (const line of out.split("\n").filter((l) => l.startsWith("route-failed"))) opts.log?.(`${r.node}: ${line}`);
      changes[r.node] = diff.length;
    }));
    if (env.cluster.lab) changes[WORKSTATION] = await syncLocalRoutes(desired[WORKSTATION] ?? []);
    if (skipped.length) opts.log?.(`network: nodes not reachable, skipped: ${skipped.join(", ")}`);
    return { changes, skipped };
  }, { wait: true });
}
async function syncLocalRoutes(desired) {
  const { stdout } = await run(ROUTE_LIST_ARGV[0], ROUTE_LIST_ARGV.slice(1));
  const diff = diffRoutes(parseRoutes(stdout), desired);
  for (const c of diff) {
    try {
      await run(c.argv[0], c.argv.slice(1));
    } catch (e) {
      throw new VlxError(
        "remote-failed",
        `workstation: ${c.argv.join(" ")} failed: ${e.stderr ?? String(e)}`,
        "the lab needs root on this machine to route to its VMs"
      );
    }
  }
  return diff.length;
}

// main/vm/kvmProbe.ts
import { posix as posix3 } from "node:path";
var KVM_CACHE = posix3.join(NODE_LIB, "kvm.json");
function parseVerdict(text) {
  try {
    const v = JSON.parse(text);
    if (typeof v.usable !== "boolean" || typeof v.checkedAt !== "string") return void 0;
    return { usable: v.usable, checkedAt: v.checkedAt, reason: String(v.reason ?? ""), accel: v.usable ? KVM_ACCEL : TCG_ACCEL };
  } catch {
    return void 0;
  }
}
function probeScript(o) {
  const dir = checkPath(o.runDir, "runDir");
  const log = `${dir}/kvm-probe.serial`;
  const pid = `${dir}/kvm-probe.pid`;
  const err = `${dir}/kvm-probe.err`;
  const qemu = sh(
    "qemu-system-x86_64",
    "-daemonize",
    "-pidfile",
    pid,
    "-display",
    "none",
    "-nodefaults",
    "-no-reboot",
    "-machine",
    "pc,accel=kvm",
    "-cpu",
    "host",
    "-m",
    "128",
    "-kernel",
    checkPath(o.kernel, "kernel"),
    "-initrd",
    checkPath(o.initrd, "initrd"),
    "-append",
    "console=ttyS0 panic=-1 vlx.name=kvm-probe",
    "-serial",
    `file:${log}`
  );
  const tries = Math.max(1, Math.round(o.bootSeconds * 5));
  return [
    `mkdir -p ${sh(dir)}; rm -f ${sh(log)} ${sh(pid)} ${sh(err)}`,
    `if [ ! -c /dev/kvm ]; then echo 'verdict no /dev/kvm is missing'; exit 0; fi`,
    `if ! ${qemu} 2>${sh(err)}; then echo "verdict no QEMU refused KVM: $(tail -c 300 ${sh(err)} | tr '\\n' ' ')"; exit 0; fi`,
    `i=0; while [ $i -lt ${tries} ]; do grep -q ${sh(READY_MARKER)} ${sh(log)} 2>/dev/null && break; kill -0 "$(cat ${sh(pid)} 2>/dev/null)" 2>/dev/null || break; sleep 0.2; i=$((i+1)); done`,
    `p=$(cat ${sh(pid)} 2>/dev/null); [ -n "$p" ] && kill -9 "$p" 2>/dev/null`,
    `if grep -q ${sh(READY_MARKER)} ${sh(log)} 2>/dev/null; then echo 'verdict yes the tiny guest booted under KVM with -cpu host';`,
    `elif [ -s ${sh(err)} ]; then echo "verdict no QEMU stopped: $(tail -c 300 ${sh(err)} | tr '\\n' ' ')";`,
    `else echo "verdict no the guest did not boot under KVM within ${o.bootSeconds} s (last console line: $(tail -n 1 ${sh(log)} 2>/dev/null | tr -d '\\r' | cut -c1-120))"; fi`,
    `rm -f ${sh(pid)}`
  ].join("\n");
}
async function probeKvm(run3, opts) {
  const cacheFile = checkPath(opts.cacheFile ?? KVM_CACHE, "cacheFile");
  const log = opts.log ?? (() => void 0);
  if (!opts.force) {
    const r = await run3.exec(sh("cat", cacheFile));
    const cached = r.code === 0 ? parseVerdict(r.stdout) : void 0;
    if (cached) return cached;
  }
  const out = await run3.run(probeScript({ kernel: opts.kernel, initrd: opts.initrd, runDir: opts.runDir ?? NODE_RUN, bootSeconds: opts.bootSeconds ?? 15 }), {
    timeoutMs: ((opts.bootSeconds ?? 15) + 30) * 1e3
  });
  const m = out.match(/^verdict (yes|no) (.*)$/m);
  if (!m) throw new VlxError("internal", `${run3.name}: KVM probe printed no verdict: ${out.slice(-300)}`);
  const verdict = { usable: m[1] === "yes", checkedAt: (/* @__PURE__ */ new Date()).toISOString(), reason: m[2], accel: m[1] === "yes" ? KVM_ACCEL : TCG_ACCEL };
  if (!verdict.usable) log(`warning: ${run3.name}: KVM not usable (${verdict.reason}); VMs there run under TCG emulation, much slower`);
  await run3.run(`${sh("mkdir", "-p", posix3.dirname(cacheFile))} && cat > ${sh(`${cacheFile}.tmp`)} && ${sh("mv", "-f", `${cacheFile}.tmp`, cacheFile)}`, {
    stdin: JSON.stringify({ usable: verdict.usable, checkedAt: verdict.checkedAt, reason: verdict.reason }, null, 2) + "\n"
  });
  return verdict;
}

// main/vc/vmOps.ts
async function readImageMeta(env, image) {
  const conn = await env.session.any();
  const r = await conn.exec(sh("cat", env.paths.image(image).meta));
  if (r.code !== 0) throw new VlxError("not-found", `image "${image}" has no metadata on shared storage`, "see `vlx image list`");
  const m = ImageMetaSchema.safeParse(JSON.parse(r.stdout));
  if (!m.success) throw new VlxError("internal", `image "${image}": metadata does not match the image schema`);
  return m.data;
}
var accelCache = /* @__PURE__ */ new Map();
async function accelFor(env, conn, log) {
  const hit = accelCache.get(conn.name);
  if (hit) return hit;
  const tiny = env.paths.image("tiny");
  let accel = TCG_ACCEL;
  if ((await conn.exec(`test -r ${sh(tiny.kernel)} && test -r ${sh(tiny.initrd)}`)).code === 0) {
    const v = await probeKvm(conn, { kernel: tiny.kernel, initrd: tiny.initrd, log });
    accel = v.accel;
    if (!v.usable) log(`warning: ${conn.name}: KVM not usable (${v.reason}); VMs run under TCG emulation`);
  } else {
    log(`warning: ${conn.name}: no tiny image to probe KVM with; VMs run under TCG emulation`);
  }
  accelCache.set(conn.name, accel);
  return accel;
}
function launchSpec(env, vc, meta, vm, opts) {
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  const run3 = vmRuntimePaths(vc.name, vm);
  const vol = env.paths.vm(vc.name, vm);
  const img = env.paths.image(vc.image);
  const disks = [{ path: vol.disk, format: "qcow2" }];
  if (vc.swapMb > 0) disks.push({ path: vol.swap, format: "qcow2" });
  const guest = tinyGuestParams({ ip: addr.ip, prefix: addr.prefix, gw: addr.gateway, name: vm, vc: vc.name });
  const boot = meta.kind === "kernel" ? { kind: "kernel", kernel: img.kernel, initrd: img.initrd, append: `${meta.cmdline ?? "console=ttyS0"} ${guest}` } : { kind: "disk" };
  const cmd = qemuArgs({
    name: vm,
    runDir: run3.dir,
    accel: opts.accel,
    memMb: vc.memMb,
    vcpus: vc.vcpus,
    boot,
    disks,
    nic: { tap: addr.tap, mac: addr.mac },
    ...opts.incoming ? { incoming: opts.incoming } : {},
    ...opts.paused ? { paused: true } : {}
  });
  return {
    name: vm,
    runDir: run3.dir,
    pidFile: cmd.pidFile,
    qmp: cmd.qmpSocket,
    serial: cmd.serialSocket,
    argv: cmd.argv,
    tap: addr.tap,
    tapMac: addr.tapMac,
    gateway: addr.gateway
  };
}
function haltSpec(vc, vm) {
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  const run3 = vmRuntimePaths(vc.name, vm);
  return { name: vm, pidFile: run3.pid, qmp: run3.qmp, serial: run3.serial, tap: addr.tap };
}
function parseLaunch(out) {
  const started = [];
  const already = [];
  for (const l of out.split("\n")) {
    const m = /^(started|already) (\S+)$/.exec(l.trim());
    if (m) (m[1] === "started" ? started : already).push(m[2]);
  }
  return { started, already };
}
async function startOnNode(env, vc, meta, node, vms, log, readyTimeoutMs = 18e4) {
  const conn = await env.session.node(node);
  const accel = await accelFor(env, conn, log);
  const specs = vms.map((vm) => launchSpec(env, vc, meta, vm, { accel, paused: true }));
  const res = parseLaunch(await runScript(conn, renderLaunchScript(specs)));
  for (const vm of res.already) log(`${vc.name}/${vm}: already running on ${node}`);
  const waitReady = meta.guest === "busybox";
  await Promise.all(res.started.map(async (vm) => {
    const spec = specs.find((s2) => s2.name === vm);
    const label = `${node}/${vc.name}/${vm}`;
    const serial = waitReady ? await openSerial(conn, spec.serial, label) : void 0;
    const q = await openQmp(conn, spec.qmp, label);
    try {
      await q.execute("cont");
      if (serial) await serial.waitFor(new RegExp(`${READY_MARKER} ${vm} `), readyTimeoutMs);
      log(`${vc.name}/${vm}: running on ${node}${serial ? " (guest ready)" : ""}`);
    } finally {
      q.close();
      serial?.close();
    }
  }));
  return res;
}
async function haltOnNode(env, vc, node, vms, opts = {}) {
  if (vms.length === 0) return [];
  const conn = await env.session.node(node);
  const out = await runScript(conn, renderHaltScript(vms.map((vm) => haltSpec(vc, vm)), opts));
  return out.split("\n").filter((l) => l.startsWith("killed ")).map((l) => l.slice(7).trim());
}
async function powerdownOnNode(env, vc, node, vms, timeoutS, log) {
  const conn = await env.session.node(node);
  await Promise.all(vms.map(async (vm) => {
    const h = haltSpec(vc, vm);
    const label = `${node}/${vc.name}/${vm}`;
    let q;
    try {
      q = await openQmp(conn, h.qmp, label);
    } catch {
      return;
    }
    try {
      await systemPowerdown(q);
    } catch (e) {
      log(`${label}: power button failed: ${e.message}`);
    } finally {
      q.close();
    }
    const gone = (await runScript(conn, renderWaitGoneScript(h.pidFile, timeoutS), (timeoutS + 30) * 1e3)).trim();
    log(gone === "gone" ? `${vc.name}/${vm}: shut down cleanly` : `${vc.name}/${vm}: still running after ${timeoutS} s: stopping it hard`);
  }));
  await haltOnNode(env, vc, node, vms);
}
async function saveOnNode(env, vc, node, vm, log) {
  const conn = await env.session.node(node);
  const h = haltSpec(vc, vm);
  const vol = env.paths.vm(vc.name, vm);
  const label = `${node}/${vc.name}/${vm}`;
  const have = await conn.exec(`test -s ${sh(vol.state)}`);
  let result;
  let q;
  try {
    q = await openQmp(conn, h.qmp, label);
  } catch {
    q = void 0;
  }
  if (q) {
    try {
      await stop(q);
      result = await saveToFile(q, vol.statePart);
      await conn.run(sh("mv", "-f", vol.statePart, vol.state));
      log(`${vc.name}/${vm}: state saved (${result.transferredBytes} bytes in ${result.totalTimeMs} ms)`);
      await quit(q);
    } finally {
      q.close();
    }
  } else if (have.code !== 0) {
    throw new VlxError("remote-failed", `${label}: neither running nor saved: nothing to save`, "start it, or destroy and re-create the VC");
  }
  await haltOnNode(env, vc, node, [vm]);
  return result;
}
async function restoreOnNode(env, vc, meta, node, vms, log) {
  const conn = await env.session.node(node);
  const accel = await accelFor(env, conn, log);
  const specs = vms.map((vm) => launchSpec(env, vc, meta, vm, { accel, incoming: { kind: "file", path: env.paths.vm(vc.name, vm).state } }));
  const res = parseLaunch(await runScript(conn, renderLaunchScript(specs)));
  await Promise.all(specs.map(async (spec) => {
    const label = `${node}/${vc.name}/${spec.name}`;
    const q = await openQmp(conn, spec.qmp, label);
    try {
      const state2 = await finishRestore(q);
      log(`${vc.name}/${spec.name}: ${res.already.includes(spec.name) ? "was already running" : "restored"} on ${node} (${state2})`);
    } finally {
      q.close();
    }
    await conn.run(sh("rm", "-f", env.paths.vm(vc.name, spec.name).state));
  }));
}
function migrationPort(ip) {
  const last = ip.split(".").map(Number);
  return 4e4 + (last[2] * 256 + last[3]) % 9e3;
}
async function migrateToNode(env, vc, meta, vm, from, to, toAddress, log) {
  const src = await env.session.node(from);
  const dst = await env.session.node(to);
  const accel = await accelFor(env, dst, log);
  const srcAccel = await accelFor(env, src, log);
  if (accel.accel !== srcAccel.accel) {
    throw new VlxError("conflict", `${vc.name}/${vm}: ${from} runs ${srcAccel.accel} and ${to} ${accel.accel}: a live migration needs the same accelerator`);
  }
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  const port = migrationPort(addr.ip);
  const spec = launchSpec(env, vc, meta, vm, { accel, incoming: { kind: "tcp", host: toAddress, port } });
  const res = parseLaunch(await runScript(dst, renderLaunchScript([spec])));
  if (res.already.includes(vm)) {
    throw new VlxError("conflict", `${vc.name}/${vm}: a QEMU for it already runs on ${to}`, "check `vlx vc status` for drift");
  }
  const h = haltSpec(vc, vm);
  const q = await openQmp(src, h.qmp, `${from}/${vc.name}/${vm}`);
  let result;
  try {
    result = await migrate2(q, `tcp:${toAddress}:${port}`, { downtimeLimitMs: 100 });
  } catch (e) {
    q.close();
    await haltOnNode(env, vc, to, [vm]).catch(() => void 0);
    throw e;
  }
  q.close();
  const tq = await openQmp(dst, spec.qmp, `${to}/${vc.name}/${vm}`);
  try {
    const st = await finishRestore(tq, { timeoutMs: 3e4 });
    log(`${vc.name}/${vm}: migrated ${from} \u2192 ${to} in ${result.totalTimeMs} ms, downtime ${result.downtimeMs} ms (${state(st)})`);
  } finally {
    tq.close();
  }
  return result;
}
function state(s2) {
  return s2 === "running" ? "running" : `now ${s2}`;
}

// main/vc/workflows.ts
var lockKey = (vc) => `vc:${vc}`;
var step = (name, run3) => ({ name, run: run3 });
function byNode(vms) {
  const m = /* @__PURE__ */ new Map();
  for (const v of vms) {
    if (!v.node) continue;
    const list2 = m.get(v.node) ?? [];
    list2.push(v.name);
    m.set(v.node, list2);
  }
  return m;
}
var active = new Set(ACTIVE_VM_STATES);
function createWorkflow(env, spec, meta) {
  const GIB2 = 1024 ** 3;
  return {
    kind: "vc.create",
    target: spec.name,
    params: { ...spec },
    lockKey: lockKey(spec.name),
    steps: [
      step("record", async (ctx) => {
        const have = await findVc(env.db, spec.name);
        if (have && have.state !== "creating") throw new VlxError("conflict", `VC name: a VC named "${spec.name}" already exists`);
        if (have) return ctx.log("VC already recorded");
        const img = env.paths.image(spec.image);
        const addrs = vcAddresses(spec.name, spec.subnet, spec.nodes);
        await env.db.tx(async (q) => {
          await upsertImage(q, {
            name: spec.image,
            kind: meta.kind,
            cmdline: meta.cmdline ?? null,
            files: meta.kind === "kernel" ? { disk: img.disk, kernel: img.kernel, initrd: img.initrd } : { disk: img.disk },
            virtualBytes: meta.sizes.qcow2Virtual,
            allocatedBytes: meta.sizes.qcow2
          });
          await q.query(
            `insert into vcs (name, state, vcpus, mem_mb, disk_gb, swap_mb, image, subnet, options)
             values ($1, 'creating', $2, $3, $4, $5, $6, $7, $8)`,
            [spec.name, spec.vcpus, spec.memMb, spec.diskGb, spec.swapMb, spec.image, spec.subnet, JSON.stringify({ guest: meta.guest })]
          );
          await q.query(
            `insert into vms (vc, name, idx, ip, mac) select $1, * from unnest($2::text[], $3::int[], $4::inet[], $5::macaddr[])`,
            [spec.name, addrs.map((a) => a.name), addrs.map((a) => a.index), addrs.map((a) => a.ip), addrs.map((a) => a.mac)]
          );
        });
        ctx.log(`recorded ${spec.nodes} VMs in ${spec.subnet} (${addrs[0].ip} \u2026 ${addrs[addrs.length - 1].ip})`);
      }),
      step("volumes", async (ctx) => {
        const vc = await getVc(env.db, spec.name);
        const vms = await vmsOf(env.db, vc.name);
        const vols = vms.map((v) => ({ name: v.name, ...env.paths.vm(vc.name, v.name) }));
        const script = renderOverlayScript({
          vcDir: env.paths.vcDir(vc.name),
          shared: env.paths.vcShared(vc.name),
          image: env.paths.image(vc.image).disk,
          diskGb: vc.diskGb,
          swapMb: vc.swapMb,
          vms: vols
        });
        const t0 = Date.now();
        const out = await runScript(await env.session.any(), script);
        const allocated = Number(out.trim().split("\n").pop()) || null;
        ctx.log(`${vms.length} disk overlays${vc.swapMb ? " and swap volumes" : ""} in one round trip: ${Date.now() - t0} ms`);
        await insertVolumes(env.db, [
          ...vols.map((v) => ({
            path: v.disk,
            kind: "root",
            format: "qcow2",
            backing: env.paths.image(vc.image).disk,
            vc: vc.name,
            vm: v.name,
            virtualBytes: vc.diskGb * GIB2,
            allocatedBytes: allocated
          })),
          ...vc.swapMb > 0 ? vols.map((v) => ({
            path: v.swap,
            kind: "swap",
            format: "qcow2",
            backing: null,
            vc: vc.name,
            vm: v.name,
            virtualBytes: vc.swapMb * 1024 * 1024,
            allocatedBytes: null
          })) : [],
          { path: env.paths.vcShared(vc.name), kind: "shared", format: "dir", backing: null, vc: vc.name, vm: null, virtualBytes: null, allocatedBytes: null }
        ]);
      }),
      step("finish", async () => {
        await setVcState(env.db, spec.name, "created");
        const vms = await vmsOf(env.db, spec.name);
        await setVmState(env.db, spec.name, vms.map((v) => v.name), "stopped", "stopped");
      })
    ]
  };
}
async function vcAndMeta(env, name) {
  const vc = await getVc(env.db, name);
  return { vc, meta: await readImageMeta(env, vc.image), vms: await vmsOf(env.db, name) };
}
async function placeVc(env, vc, vms, policy, mode, ctx, keepAll = false) {
  const nodes = await placementNodes(env, env.db, vc.name);
  const pinned = {};
  for (const v of vms) if (v.node && (keepAll || v.state === "running")) pinned[v.name] = v.node;
  const { mapping } = place(vms.map((v) => ({ name: v.name, vcpus: vc.vcpus, memMb: vc.memMb })), nodes, policy, mode, { pinned });
  const counts = /* @__PURE__ */ new Map();
  for (const n of Object.values(mapping)) counts.set(n, (counts.get(n) ?? 0) + 1);
  ctx.log(`placement ${policy}/${mode}: ${[...counts].map(([n, c]) => `${n}: ${c}`).join(", ")}`);
  return mapping;
}
function startWorkflow(env, name, policy, mode) {
  return {
    kind: "vc.start",
    target: name,
    params: { policy, mode },
    lockKey: lockKey(name),
    steps: [
      step("place", async (ctx) => {
        const vc = await getVc(env.db, name);
        if (["creating", "saved", "saving", "restoring", "destroying"].includes(vc.state)) {
          throw new VlxError("conflict", `VC ${name} is ${vc.state}`, vc.state === "saved" ? "use `vlx vc restore`" : void 0);
        }
        const vms = await vmsOf(env.db, name);
        const mapping = await placeVc(env, vc, vms, policy, mode, ctx);
        await env.db.tx(async (q) => {
          await setMapping(q, name, mapping);
          await setVmState(q, name, vms.filter((v) => v.state !== "running").map((v) => v.name), "starting", "running");
          await setVcState(q, name, "starting", { policy, mode });
        });
      }),
      step("firewall", async (ctx) => {
        await syncNetwork(env, { log: () => void 0 });
        ctx.log("firewall rules in place on every node");
      }),
      step("vms", async (ctx) => {
        const { vc, meta, vms } = await vcAndMeta(env, name);
        const groups = [...byNode(vms.filter((v) => v.state === "starting" || v.state === "running"))];
        let done = 0;
        await eachParallel(groups, async ([node, list2]) => {
          await startOnNode(env, vc, meta, node, list2, ctx.log);
          await setVmState(env.db, name, list2, "running");
          done += list2.length;
          ctx.progress(done / vms.length, `${done}/${vms.length} VMs`);
        }, ([node]) => node);
        const r = await syncNetwork(env, { log: ctx.log });
        ctx.log(`routes: ${Object.entries(r.changes).map(([h, n]) => `${h} +${n}`).join(", ")}`);
      }),
      step("finish", async () => {
        await setVcState(env.db, name, "running");
      })
    ]
  };
}
function stopWorkflow(env, name, timeoutS) {
  return {
    kind: "vc.stop",
    target: name,
    params: { timeoutS },
    lockKey: lockKey(name),
    steps: [
      step("mark", async () => {
        const vc = await getVc(env.db, name);
        if (vc.state === "saved") throw new VlxError("conflict", `VC ${name} is saved`, "restore it first, or destroy it");
        const vms = await vmsOf(env.db, name);
        await setVmState(env.db, name, vms.filter((v) => active.has(v.state)).map((v) => v.name), "stopping", "stopped");
        await setVcState(env.db, name, "stopping");
      }),
      step("shutdown", async (ctx) => {
        const { vc, vms } = await vcAndMeta(env, name);
        await eachParallel(
          [...byNode(vms.filter((v) => v.state === "stopping"))],
          ([node, list2]) => powerdownOnNode(env, vc, node, list2, timeoutS, ctx.log),
          ([node]) => node
        );
      }),
      step("cleanup", async (ctx) => {
        const vc = await getVc(env.db, name);
        const vms = await vmsOf(env.db, name);
        await haltEverywhere(env, vc, vms.map((v) => v.name), ctx);
        await env.db.tx(async (q) => {
          await clearMapping(q, name);
          await setVmState(q, name, vms.map((v) => v.name), "stopped", "stopped");
          await setVcState(q, name, "stopped");
        });
        await syncNetwork(env, { log: ctx.log });
      })
    ]
  };
}
async function haltEverywhere(env, vc, vms, ctx) {
  const nodes = env.session.nodes().map((n) => n.name);
  await Promise.all(nodes.map(async (node) => {
    try {
      const killed = await haltOnNode(env, vc, node, vms);
      if (killed.length) ctx.log(`${node}: stopped hard: ${killed.join(", ")}`);
    } catch (e) {
      ctx.log(`${node}: not reachable, skipped: ${e.message.split("\n")[0]}`);
    }
  }));
}
function saveWorkflow(env, name) {
  return {
    kind: "vc.save",
    target: name,
    lockKey: lockKey(name),
    steps: [
      step("mark", async () => {
        const vc = await getVc(env.db, name);
        if (!["running", "saving", "starting", "error"].includes(vc.state)) {
          throw new VlxError("conflict", `VC ${name} is ${vc.state}: only a running VC can be saved`);
        }
        const vms = await vmsOf(env.db, name);
        await setVmState(env.db, name, vms.filter((v) => v.state === "running" || v.state === "paused").map((v) => v.name), "saving", "saved");
        await setVcState(env.db, name, "saving");
      }),
      step("save", async (ctx) => {
        const { vc, vms } = await vcAndMeta(env, name);
        const todo = vms.filter((v) => v.state === "saving" && v.node);
        let done = 0;
        await eachParallel(todo, async (v) => {
          await saveOnNode(env, vc, v.node, v.name, ctx.log);
          await setVmState(env.db, name, [v.name], "saved");
          ctx.progress(++done / todo.length, `${done}/${todo.length} VMs`);
        }, (v) => `${v.node}/${v.name}`);
      }),
      step("network", async (ctx) => {
        await syncNetwork(env, { log: ctx.log });
        await setVcState(env.db, name, "saved");
      })
    ]
  };
}
function restoreWorkflow(env, name, policy, mode) {
  return {
    kind: "vc.restore",
    target: name,
    params: { ...policy ? { policy } : {}, ...mode ? { mode } : {} },
    lockKey: lockKey(name),
    steps: [
      step("place", async (ctx) => {
        const vc = await getVc(env.db, name);
        if (!["saved", "restoring"].includes(vc.state)) throw new VlxError("conflict", `VC ${name} is ${vc.state}: only a saved VC can be restored`);
        const vms = await vmsOf(env.db, name);
        const saved = vms.filter((v) => v.state === "saved" || v.state === "restoring");
        let mapping;
        if (policy || mode) {
          mapping = await placeVc(env, vc, saved, policy ?? vc.policy, mode ?? vc.mode, ctx);
        } else {
          const nodes = await placementNodes(env, env.db, vc.name);
          const pinned = Object.fromEntries(saved.filter((v) => v.node).map((v) => [v.name, v.node]));
          mapping = place(saved.map((v) => ({ name: v.name, vcpus: vc.vcpus, memMb: vc.memMb })), nodes, vc.policy, vc.mode, { pinned }).mapping;
        }
        await env.db.tx(async (q) => {
          await setMapping(q, name, mapping);
          await setVmState(q, name, saved.map((v) => v.name), "restoring", "running");
          await setVcState(q, name, "restoring", { ...policy ? { policy } : {}, ...mode ? { mode } : {} });
        });
      }),
      step("firewall", async () => {
        await syncNetwork(env, { log: () => void 0 });
      }),
      step("restore", async (ctx) => {
        const { vc, meta, vms } = await vcAndMeta(env, name);
        await eachParallel([...byNode(vms.filter((v) => v.state === "restoring"))], async ([node, list2]) => {
          await restoreOnNode(env, vc, meta, node, list2, ctx.log);
          await setVmState(env.db, name, list2, "running");
        }, ([node]) => node);
        await syncNetwork(env, { log: ctx.log });
        await setVcState(env.db, name, "running");
      })
    ]
  };
}
function destroyWorkflow(env, name) {
  return {
    kind: "vc.destroy",
    target: name,
    lockKey: lockKey(name),
    steps: [
      step("mark", async () => {
        await getVc(env.db, name);
        await setVcState(env.db, name, "destroying");
      }),
      step("halt", async (ctx) => {
        const vc = await getVc(env.db, name);
        const vms = await vmsOf(env.db, name);
        await haltEverywhere(env, vc, vms.map((v) => v.name), ctx);
        await env.session.onNodes("all", sh("rm", "-rf", `${NODE_RUN}/vm/${vc.name}`));
        await env.db.tx(async (q) => {
          await clearMapping(q, name);
          await setVmState(q, name, vms.map((v) => v.name), "stopped", "stopped");
        });
        await syncNetwork(env, { log: ctx.log });
      }),
      step("files", async (ctx) => {
        const dir = env.paths.vcDir(name);
        await (await env.session.any()).run(sh("rm", "-rf", dir));
        await deleteVolumes(env.db, (await volumesOf(env.db, name)).map((v) => v.path));
        ctx.log(`removed ${dir}`);
      }),
      step("rows", async (ctx) => {
        await env.db.query("delete from vcs where name = $1", [name]);
        await syncNetwork(env, { log: ctx.log });
      })
    ]
  };
}
async function runningOn(env, vc, node, vm) {
  const out = await runScript(await env.session.node(node), renderWaitGoneScript(vmRuntimePaths(vc.name, vm).pid, 0));
  return out.trim() === "alive";
}
function moveWorkflow(env, req) {
  const { vc: name, vm, to } = req;
  return {
    kind: "vm.move",
    target: `${name}/${vm}`,
    params: { to },
    lockKey: lockKey(name),
    steps: [
      step("move", async (ctx) => {
        const { vc, meta, vms } = await vcAndMeta(env, name);
        const row = vms.find((v) => v.name === vm);
        if (!row) throw new VlxError("not-found", `VC ${name} has no VM "${vm}"`);
        if (row.node === to && row.state !== "migrating") return ctx.log(`${name}/${vm} is already on ${to}`);
        if (!row.node || !["running", "saved", "migrating"].includes(row.state)) {
          throw new VlxError("conflict", `${name}/${vm} is ${row.state}: only a running or saved VM can move`, "a stopped VM is placed when its VC starts");
        }
        const from = row.node;
        const nodes = await placementNodes(env, env.db, void 0);
        if (row.state !== "migrating") {
          checkMove({ name: vm, vcpus: vc.vcpus, memMb: vc.memMb, node: from }, to, nodes, vc.mode);
        }
        if (row.state === "saved") {
          await setMapping(env.db, name, { [vm]: to });
          await setVmState(env.db, name, [vm], "restoring");
          await syncNetwork(env, { log: () => void 0 });
          await restoreOnNode(env, vc, meta, to, [vm], ctx.log);
          await setVmState(env.db, name, [vm], "running", "running");
          await syncNetwork(env, { log: ctx.log });
          return;
        }
        if (row.state === "migrating") {
          const srcAlive = await runningOn(env, vc, from, vm);
          const dstAlive = await runningOn(env, vc, to, vm);
          if (!srcAlive && dstAlive) {
            await setMapping(env.db, name, { [vm]: to });
            await setVmState(env.db, name, [vm], "running");
            await syncNetwork(env, { log: ctx.log });
            await haltOnNode(env, vc, from, [vm]);
            return ctx.log(`${name}/${vm}: the interrupted migration had completed; now mapped to ${to}`);
          }
          if (!srcAlive) throw new VlxError("remote-failed", `${name}/${vm} runs neither on ${from} nor on ${to}`, "stop and start the VC");
          await haltOnNode(env, vc, to, [vm]);
        }
        const t0 = Date.now();
        await setVmState(env.db, name, [vm], "migrating");
        await syncNetwork(env, { extraTaps: [{ vc: name, vm, node: to }], log: () => void 0 });
        const result = await migrateToNode(env, vc, meta, vm, from, to, nodeAddress(env, to), ctx.log);
        await setMapping(env.db, name, { [vm]: to });
        await setVmState(env.db, name, [vm], "running");
        await syncNetwork(env, { log: ctx.log });
        const tRoutes = Date.now() - t0;
        await haltOnNode(env, vc, from, [vm]);
        const addr = vmAddress(name, vc.subnet, vmIndex(vm));
        ctx.log(`moved ${name}/${vm} (${addr.ip}) ${from} \u2192 ${to}: QEMU total ${result.totalTimeMs} ms, downtime ${result.downtimeMs} ms; routes moved ${tRoutes} ms after start`);
      })
    ]
  };
}

// main/services/vc.ts
var VcService = class _VcService {
  constructor(env) {
    this.env = env;
  }
  env;
  static open(cluster) {
    return new _VcService(openVcEnv(cluster));
  }
  close() {
    return closeVcEnv(this.env);
  }
  async run(def, opts = {}) {
    const vc = def.target.split("/")[0];
    if (def.lockKey && !await this.env.db.isLocked(def.lockKey)) await supersedeTasks(this.env.db, vc, def.kind);
    return runWorkflow(this.env.db, def, opts);
  }
  /** Known images on shared storage: names and template sizes (one round trip). */
  async images() {
    const conn = await this.env.session.any();
    const dir = this.env.paths.imagesDir;
    const r = await conn.exec(`for f in ${sh(dir)}/*.json; do [ -e "$f" ] && { cat "$f"; echo; echo ''; }; done; true`);
    const out = [];
    for (const chunk of r.stdout.split("")) {
      if (!chunk.trim()) continue;
      try {
        const m = ImageMetaSchema.safeParse(JSON.parse(chunk));
        if (m.success) out.push({ name: m.data.name, virtualBytes: m.data.sizes.qcow2Virtual });
      } catch {
      }
    }
    return out;
  }
  /**
   * Everything is checked before the task's first write: the spec's own rules, then the
   * cluster (image present, memory fits a node, name free, subnet free and clear of the
   * cluster network). A VC left in 'creating' by a killed create is resumed instead.
   */
  async createVc(raw, opts = {}) {
    const spec = parseVcSpec(raw);
    const existing = await findVc(this.env.db, spec.name);
    let resolved = spec;
    if (existing?.state === "creating") {
      resolved = { ...spec, subnet: existing.subnet };
    } else {
      const [nodes, images, vcs, reserved, pool] = await Promise.all([
        refreshNodes(this.env),
        this.images(),
        listVcRows(this.env.db),
        reservedNetworks(this.env),
        vcSubnetPool(this.env)
      ]);
      resolved = validateAgainstCluster(spec, { nodes, images, vcs, reserved, pool });
    }
    const meta = await readImageMeta(this.env, resolved.image);
    return this.run(createWorkflow(this.env, resolved, meta), opts);
  }
  /** Without a policy or mode, the VC's last ones (block/strict for a new VC). */
  async startVc(name, policy, mode, opts = {}) {
    checkName("vc", name, "VC name");
    const vc = await getVc(this.env.db, name);
    const p = policy ?? vc.policy;
    const m = mode ?? vc.mode;
    checkPolicy(p, m);
    return this.run(startWorkflow(this.env, name, p, m), opts);
  }
  async stopVc(name, stopOpts = {}, opts = {}) {
    checkName("vc", name, "VC name");
    const timeoutS = stopOpts.timeoutS === void 0 ? 30 : checkInt(stopOpts.timeoutS, "--timeout", 0, 3600);
    await getVc(this.env.db, name);
    return this.run(stopWorkflow(this.env, name, timeoutS), opts);
  }
  async saveVc(name, opts = {}) {
    checkName("vc", name, "VC name");
    await getVc(this.env.db, name);
    return this.run(saveWorkflow(this.env, name), opts);
  }
  async restoreVc(name, policy, mode, opts = {}) {
    checkName("vc", name, "VC name");
    if (policy !== void 0 && policy !== "block" && policy !== "cyclic") throw invalid("--policy", "must be block or cyclic", policy);
    if (mode !== void 0 && mode !== "strict" && mode !== "free") throw invalid("--mode", "must be strict or free", mode);
    await getVc(this.env.db, name);
    return this.run(restoreWorkflow(this.env, name, policy, mode), opts);
  }
  async destroyVc(name, opts = {}) {
    checkName("vc", name, "VC name");
    await getVc(this.env.db, name);
    return this.run(destroyWorkflow(this.env, name), opts);
  }
  /** One result per VM; a refusal for one VM does not stop the others. */
  async moveVms(reqs, opts = {}) {
    const out = [];
    for (const r of reqs) {
      try {
        checkName("vc", r.vc, "VC name");
        checkName("vm", r.vm, "VM name");
        checkName("node", r.to, "--to");
        const vms = await vmsOf(this.env.db, (await getVc(this.env.db, r.vc)).name);
        const row = vms.find((v) => v.name === r.vm);
        if (!row) throw new VlxError("not-found", `VC ${r.vc} has no VM "${r.vm}"`);
        const action = row.state === "running" ? "migrate" : "relocate";
        const task = await this.run(moveWorkflow(this.env, r), opts);
        out.push({
          vc: r.vc,
          vm: r.vm,
          ok: task.state === "succeeded",
          action,
          taskId: task.id,
          ...task.error ? { error: { code: task.error.code, message: task.error.message } } : {}
        });
      } catch (e) {
        const err = asVlxError(e);
        out.push({ vc: r.vc, vm: r.vm, ok: false, error: { code: err.code, message: err.message, ...err.hint ? { hint: err.hint } : {} } });
      }
    }
    return out;
  }
  async listVcs() {
    const [vcs, vms] = await Promise.all([listVcRows(this.env.db), allVms(this.env.db)]);
    return vcs.map((vc) => vcInfo(vc, vms.filter((v) => v.vc === vc.name)));
  }
  /**
   * What the DB says next to what is: QEMU processes (pid files + /proc) and VC routes on
   * every node, one round trip per node. Every difference becomes a drift line.
   */
  async vcStatus(name) {
    checkName("vc", name, "VC name");
    const vc = await getVc(this.env.db, name);
    const vms = await vmsOf(this.env.db, name);
    const script = `${renderScanScript(NODE_RUN)}echo '--routes--'
${sh(...ROUTE_LIST_ARGV)}
`;
    const results = await this.env.session.onNodes("all", "sh -e", { stdin: script, timeoutMs: 15e3 });
    const drift = [];
    const actual = {};
    const unreachable = [];
    const addresses = new Map(this.env.session.nodes().map((n) => [n.name, n.address]));
    const activeStates = new Set(ACTIVE_VM_STATES);
    for (const r of results) {
      if (r.code !== 0) {
        unreachable.push(r.node);
        continue;
      }
      const [scan, routes = ""] = r.stdout.split("--routes--");
      for (const p of parseScan(scan).filter((p2) => p2.vc === name)) (actual[p.vm] ??= []).push(r.node);
      const have = new Map(parseRoutes(routes).map((x) => [x.dst, x]));
      for (const v of vms) {
        if (!v.node || !activeStates.has(v.state)) continue;
        const route = have.get(`${v.ip}/32`);
        const want = v.node === r.node ? `dev ${tapName(v.ip)}` : `via ${addresses.get(v.node)}`;
        const got = !route ? "none" : "dev" in route ? `dev ${route.dev}` : `via ${route.via}`;
        if (got !== want) drift.push(`${r.node}: route to ${v.name} (${v.ip}) is ${got}, should be ${want}`);
      }
    }
    for (const v of vms) {
      const where = actual[v.name] ?? [];
      const shouldRun = v.node !== null && activeStates.has(v.state);
      if (where.length > 1) drift.push(`${v.name}: QEMU runs on ${where.length} nodes (${where.join(", ")})`);
      if (shouldRun && !where.includes(v.node) && !unreachable.includes(v.node)) {
        drift.push(`${v.name}: DB says ${v.state} on ${v.node}, but no QEMU runs there`);
      }
      for (const n of where) if (!shouldRun || n !== v.node) drift.push(`${v.name}: QEMU runs on ${n}, DB says ${v.state}${v.node ? ` on ${v.node}` : ""}`);
    }
    for (const n of unreachable) drift.push(`${n}: not reachable, its part is unknown`);
    const tasks = await listTasks(this.env.db, { limit: 10 }).then((t) => t.filter((x) => x.target === name || x.target.startsWith(`${name}/`)));
    return { ...vcInfo(vc, vms), drift, actual, tasks };
  }
  /**
   * The backing chains of every volume on shared storage: images as roots, VM disks under
   * the image they overlay. One `qemu-img info --backing-chain` per VM disk, all in one round trip.
   */
  async volumesTree() {
    const vols = await volumesOf(this.env.db);
    const disks = vols.filter((v) => v.kind === "root" || v.kind === "swap");
    const conn = await this.env.session.any();
    const script = disks.map((d) => `echo ${sh(`--vol ${d.path}`)}; qemu-img info -U --backing-chain --output=json ${sh(d.path)} || echo '[]'`).join("\n") + "\n";
    const out = disks.length ? await conn.run("sh", { stdin: script, timeoutMs: 12e4 }) : "";
    const chains = /* @__PURE__ */ new Map();
    for (const part of out.split("--vol ").slice(1)) {
      const nl = part.indexOf("\n");
      try {
        chains.set(part.slice(0, nl).trim(), JSON.parse(part.slice(nl + 1)));
      } catch {
      }
    }
    const roots = /* @__PURE__ */ new Map();
    const loose = [];
    for (const d of disks) {
      const chain = chains.get(d.path) ?? [];
      const self = chain[0];
      const node = {
        path: d.path,
        kind: d.kind === "root" ? "vm-disk" : "swap",
        format: self?.format ?? "qcow2",
        allocatedBytes: self?.["actual-size"] ?? 0,
        virtualBytes: self?.["virtual-size"] ?? 0,
        usedBy: `${d.vc}/${d.vm}`,
        canReset: false,
        canDelete: false,
        children: []
      };
      const base = chain[1];
      if (!base) {
        loose.push(node);
        continue;
      }
      let root = roots.get(base.filename);
      if (!root) {
        root = {
          path: base.filename,
          kind: "image",
          format: base.format,
          allocatedBytes: base["actual-size"] ?? 0,
          virtualBytes: base["virtual-size"],
          canReset: false,
          canDelete: false,
          children: []
        };
        roots.set(base.filename, root);
      }
      root.children.push(node);
    }
    return [...roots.values(), ...loose];
  }
};
function checkPolicy(policy, mode) {
  if (policy !== "block" && policy !== "cyclic") throw invalid("--policy", "must be block or cyclic", policy);
  if (mode !== "strict" && mode !== "free") throw invalid("--mode", "must be strict or free", mode);
}
var VC_STATE = {
  creating: "creating",
  created: "stopped",
  starting: "starting",
  running: "running",
  stopping: "stopping",
  stopped: "stopped",
  saving: "saving",
  saved: "saved",
  restoring: "restoring",
  destroying: "destroying",
  error: "error"
};
var VM_STATE = {
  defined: "stopped",
  starting: "starting",
  running: "running",
  paused: "paused",
  stopping: "stopping",
  stopped: "stopped",
  saving: "saving",
  saved: "saved",
  restoring: "starting",
  migrating: "migrating",
  error: "error"
};
function vcInfo(vc, vms) {
  const vmInfos = vms.map((v) => ({
    name: v.name,
    vc: v.vc,
    ...v.node ? { node: v.node } : {},
    state: VM_STATE[v.state] ?? "unknown",
    address: v.ip,
    mac: v.mac
  }));
  let state2 = VC_STATE[vc.state] ?? "unknown";
  if (state2 === "running" && vmInfos.some((v) => v.state !== "running")) state2 = "partial";
  return {
    name: vc.name,
    state: state2,
    image: vc.image,
    vcpus: vc.vcpus,
    memMb: vc.memMb,
    diskGb: vc.diskGb,
    swapMb: vc.swapMb,
    subnet: vc.subnet,
    policy: vc.policy,
    mode: vc.mode,
    createdAt: new Date(vc.createdAt).toISOString(),
    vms: vmInfos
  };
}

// test/integration/vc-support.ts
function vcService() {
  return VcService.open("lab");
}
var run2 = promisify2(execFile2);
async function guestRun(s2, vc, vm, command, timeoutMs = 3e4) {
  const st = await s2.vcStatus(vc);
  const row = st.vms.find((v) => v.name === vm);
  if (!row?.node) throw new Error(`${vc}/${vm} has no node`);
  const conn = await s2.env.session.node(row.node);
  const serial = new SerialConsole(await conn.openUnixSocket(vmRuntimePaths(vc, vm).serial), `${vc}/${vm}`);
  try {
    serial.write("\n");
    return await serial.run(command, timeoutMs);
  } finally {
    serial.close();
  }
}

// .scratch-vc/g.ts
var s = vcService();
try {
  console.log(await guestRun(s, process.argv[2], process.argv[3], process.argv[4]));
} finally {
  await s.close();
}
