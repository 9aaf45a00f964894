// test/integration/vc-support.ts
import { execFile as execFile3 } from "node:child_process";
import { promisify as promisify3 } from "node:util";

// test/integration/support/lab.ts
import { execFile } from "node:child_process";
import { promisify } from "node:util";

// main/lab/layout.ts
import { join } from "node:path";

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

// main/lab/layout.ts
var BRIDGE = "vlxlab0";
var HOST_ADDRESS = "10.77.0.254";
var PREFIX_LEN = 24;
var CLUSTER_NETWORK = "10.77.0.0/24";
var CLUSTER_NAME = "lab";
var NETNS_PREFIX = "vlx-n";
var VETH_PREFIX = "vlxn";
var MAX_NODES = 32;
var LAB_DEFAULTS = { nodes: 4, cores: 4, memMb: 8192 };
function checkLabOptions(raw) {
  return {
    nodes: raw.nodes === void 0 ? LAB_DEFAULTS.nodes : checkInt(raw.nodes, "--nodes", 1, MAX_NODES),
    cores: raw.cores === void 0 ? LAB_DEFAULTS.cores : checkInt(raw.cores, "--cores", 1, 1024),
    memMb: raw.memMb === void 0 ? LAB_DEFAULTS.memMb : checkInt(raw.memMb, "--mem-mb", 128, 16 * 1024 * 1024)
  };
}
function nodeLayout(index) {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NODES) throw invalid("node index", `must be a whole number from 1 to ${MAX_NODES}`, index);
  return {
    index,
    name: `n${index}`,
    address: `10.77.0.${index}`,
    netns: `${NETNS_PREFIX}${index}`,
    hostVeth: `${VETH_PREFIX}${index}`,
    mac: `52:54:4d:00:00:${index.toString(16).padStart(2, "0")}`
  };
}
function labNodes(count) {
  return Array.from({ length: count }, (_, i) => nodeLayout(i + 1));
}
function nodeIndexOf(name) {
  const m = /^n([1-9]\d?)$/.exec(name);
  if (!m) return void 0;
  const i = Number(m[1]);
  return i <= MAX_NODES ? i : void 0;
}
function netnsIndexOf(netns) {
  return netns.startsWith(NETNS_PREFIX) ? nodeIndexOf("n" + netns.slice(NETNS_PREFIX.length)) : void 0;
}
var PLAIN_PATH = /^\/[A-Za-z0-9._/-]*$/;
function checkLabDir(dir) {
  if (!PLAIN_PATH.test(dir) || dir.split("/").includes("..") || dir === "/") {
    throw invalid("VLX_LAB_DIR", 'must be an absolute path of letters, digits, ".", "_", "-" and "/"', dir);
  }
  return dir.replace(/\/+$/, "");
}
function labPaths(dir) {
  return {
    root: dir,
    stateFile: join(dir, "lab.json"),
    lockFile: join(dir, "lock"),
    key: join(dir, "id_ed25519"),
    publicKey: join(dir, "id_ed25519.pub"),
    knownHosts: join(dir, "known_hosts"),
    shared: join(dir, "shared"),
    nodesDir: join(dir, "nodes")
  };
}
function nodePaths(dir, name) {
  const d = join(dir, "nodes", name);
  return {
    dir: d,
    hostKey: join(d, "ssh_host_ed25519_key"),
    hostKeyPub: join(d, "ssh_host_ed25519_key.pub"),
    sshdConfig: join(d, "sshd_config"),
    startScript: join(d, "start.sh"),
    pidFile: join(d, "sshd.pid"),
    log: join(d, "node.log"),
    run: join(d, "run"),
    lib: join(d, "lib"),
    etc: join(d, "etc"),
    home: join(d, "home")
  };
}

// main/lab/index.ts
import { spawnSync } from "node:child_process";
import { chmodSync as chmodSync2, existsSync as existsSync5, mkdirSync as mkdirSync4, readdirSync, readFileSync as readFileSync5, rmdirSync, rmSync as rmSync2, writeFileSync as writeFileSync4 } from "node:fs";
import { join as join4 } from "node:path";

// main/config/clusters.ts
import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

// main/config/paths.ts
import { homedir } from "node:os";
import { join as join2 } from "node:path";
function appHome() {
  return process.env.VLX_HOME || join2(process.env.XDG_CONFIG_HOME || join2(homedir(), ".config"), "virtualinux-manager");
}
var appPaths = {
  clusters: () => join2(appHome(), "clusters.json"),
  knownHosts: () => join2(appHome(), "known_hosts")
};
function labDir() {
  return process.env.VLX_LAB_DIR || "/var/lib/vlx-lab";
}
var SHARED_ROOT = "/srv/virtualinux";
var NODE_RUN = "/run/virtualinux";
var NODE_LIB = "/var/lib/virtualinux";
var NODE_ETC = "/etc/virtualinux";

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
function putCluster(c, makeCurrent = false) {
  const s2 = loadStore();
  s2.clusters[c.name] = ClusterConfig.parse(c);
  if (makeCurrent || !s2.current) s2.current = c.name;
  saveStore(s2);
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
function replaceKnownHost(host, port, key, file = appPaths.knownHosts()) {
  mkdirSync2(dirname2(file), { recursive: true, mode: 448 });
  const pattern = hostPattern(host, port);
  const kept = existsSync2(file) ? readFileSync2(file, "utf8").split("\n").filter((l) => l.trim() && l.trim().split(/\s+/)[0] !== pattern) : [];
  kept.push(`${pattern} ${key.keyType} ${key.keyBase64}`);
  writeFileSync2(file, kept.join("\n") + "\n", { mode: 384 });
}

// main/lab/net.ts
import { z as z2 } from "zod";

// main/lab/local.ts
import { spawn } from "node:child_process";
function runLocal(cmd, args, input, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === void 0 ? "ignore" : "pipe", "pipe", "pipe"], env: env ? { ...process.env, ...env } : process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => stdout += d);
    child.stderr.setEncoding("utf8").on("data", (d) => stderr += d);
    child.on("error", (e) => reject(new VlxError("missing-tool", `cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (input !== void 0) child.stdin.end(input);
  });
}
async function mustRun(cmd, args, input) {
  const r = await runLocal(cmd, args, input);
  if (r.code !== 0) {
    throw new VlxError("internal", `${[cmd, ...args].join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// main/lab/net.ts
var IpLink = z2.object({
  ifname: z2.string(),
  flags: z2.array(z2.string()).default([]),
  operstate: z2.string().optional(),
  master: z2.string().optional()
});
async function hostLinks() {
  const out = await mustRun("ip", ["-j", "link", "show"]);
  const links = z2.array(IpLink).parse(JSON.parse(out || "[]"));
  return new Map(links.filter((l) => l.ifname === BRIDGE || l.ifname.startsWith(VETH_PREFIX)).map((l) => [l.ifname, l]));
}
async function listNetns() {
  const out = await mustRun("ip", ["netns", "list"]);
  return out.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) => Boolean(n));
}
async function ensureBridge(links) {
  const bridge = links.get(BRIDGE);
  if (!bridge) {
    await mustRun("ip", ["-batch", "-"], [
      `link add ${BRIDGE} type bridge`,
      `addr add ${HOST_ADDRESS}/${PREFIX_LEN} dev ${BRIDGE}`,
      `link set ${BRIDGE} up`,
      ""
    ].join("\n"));
    return;
  }
  const addrs = await mustRun("ip", ["-j", "addr", "show", "dev", BRIDGE]);
  if (!addrs.includes(`"${HOST_ADDRESS}"`)) await mustRun("ip", ["addr", "add", `${HOST_ADDRESS}/${PREFIX_LEN}`, "dev", BRIDGE]);
  if (!bridge.flags.includes("UP")) await mustRun("ip", ["link", "set", BRIDGE, "up"]);
}
async function wireNodes(nodes) {
  if (nodes.length === 0) return;
  await mustRun("ip", ["-batch", "-"], nodes.flatMap((n) => [
    `netns add ${n.netns}`,
    `link add ${n.hostVeth} type veth peer name eth0 address ${n.mac} netns ${n.netns}`,
    `link set ${n.hostVeth} master ${BRIDGE} up`
  ]).join("\n") + "\n");
  await Promise.all(nodes.map((n) => mustRun("ip", ["-n", n.netns, "-batch", "-"], [
    "link set lo up",
    "link set eth0 up",
    `addr add ${n.address}/${PREFIX_LEN} dev eth0`,
    `route add default via ${HOST_ADDRESS}`,
    ""
  ].join("\n"))));
}
async function nodeWired(n, links, netns) {
  if (!netns.includes(n.netns) || links.get(n.hostVeth)?.master !== BRIDGE) return false;
  const r = await runLocal("ip", ["-n", n.netns, "-j", "addr", "show", "dev", "eth0"]);
  return r.code === 0 && r.stdout.includes(`"${n.address}"`);
}
async function setHostLink(n, state2) {
  await mustRun("ip", ["link", "set", n.hostVeth, state2]);
}
async function deleteLink(name) {
  await runLocal("ip", ["link", "del", name]);
}
async function deleteNetns(name) {
  await runLocal("ip", ["netns", "del", name]);
}

// main/lab/node.ts
import { spawn as spawn2 } from "node:child_process";
import { closeSync, existsSync as existsSync3, openSync, readFileSync as readFileSync3, readSync, statSync } from "node:fs";
import { connect } from "node:net";
async function nodePids(netns) {
  const r = await runLocal("ip", ["netns", "pids", netns]);
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => Number.isInteger(p) && p > 0);
}
async function killNode(netns) {
  for (let round = 0; round < 50; round++) {
    const pids = await nodePids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
      }
    }
    await sleep(round < 5 ? 5 : 50);
  }
  throw new VlxError("internal", `processes in ${netns} survive SIGKILL: ${(await nodePids(netns)).join(" ")}`);
}
function readPid(file) {
  try {
    const n = Number(readFileSync3(file, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : void 0;
  } catch {
    return void 0;
  }
}
function sshdPid(p) {
  const pid = readPid(p.pidFile);
  if (!pid) return void 0;
  try {
    const cmd = " " + readFileSync3(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ") + " ";
    return cmd.includes(` ${p.sshdConfig} `) ? pid : void 0;
  } catch {
    return void 0;
  }
}
function logTail(file, bytes = 800) {
  if (!existsSync3(file)) return "";
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  try {
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString("utf8").trim();
  } finally {
    closeSync(fd);
  }
}
function startNode(n, p) {
  const log = openSync(p.log, "a", 384);
  try {
    const child = spawn2(
      "ip",
      ["netns", "exec", n.netns, "unshare", "--uts", "--mount", "--propagation", "private", "/bin/sh", p.startScript],
      { detached: true, stdio: ["ignore", log, log] }
    );
    child.on("error", () => {
    });
    child.unref();
    return child.pid ?? 0;
  } finally {
    closeSync(log);
  }
}
async function waitForSshd(n, p, timeoutMs = 15e3) {
  const deadline = Date.now() + timeoutMs;
  for (; ; ) {
    if (await sshBanner(n.address, 500)) return;
    if (Date.now() > deadline) {
      throw new VlxError("timeout", `sshd of lab node ${n.name} (${n.address}) did not answer`, `node log ${p.log}:
${logTail(p.log)}`);
    }
    await sleep(20);
  }
}
function sshBanner(host, timeoutMs) {
  return new Promise((resolve) => {
    const sock = connect({ host, port: 22 });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("error", () => done(false));
    sock.once("data", (d) => done(d.toString("latin1").startsWith("SSH-")));
  });
}

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

// main/lab/render.ts
function renderSshdConfig(node, p) {
  return [
    `# lab node ${node.name}: written by vlx lab up`,
    `ListenAddress ${node.address}`,
    "Port 22",
    `HostKey ${p.hostKey}`,
    `PidFile ${p.pidFile}`,
    "UsePAM no",
    // The lab dir may sit under a group-writable parent; the keys are ours anyway.
    "StrictModes no",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "AuthorizedKeysFile .ssh/authorized_keys",
    "AllowTcpForwarding yes",
    "AllowStreamLocalForwarding yes",
    // Many parallel channels per pooled connection, many connections in a burst (benchmarks).
    "MaxSessions 64",
    "MaxStartups 100:30:200",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    ""
  ].join("\n");
}
function renderStartScript({ node, paths: paths2, shared }) {
  const binds = [
    [shared, SHARED_ROOT],
    [paths2.run, NODE_RUN],
    [paths2.lib, NODE_LIB],
    [paths2.etc, NODE_ETC],
    // A root home of its own: the host root's .bashrc would run for every remote command.
    [paths2.home, "/root"]
  ];
  return [
    "#!/bin/sh",
    `# lab node ${node.name}: written by vlx lab up; started under ip netns exec + unshare`,
    "set -e",
    // /proc/sys/kernel/hostname is per UTS namespace, /proc/sys/net per network namespace.
    sh("echo", node.name) + " > /proc/sys/kernel/hostname",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
    ...binds.map(([from, to]) => sh("mount", "--bind", from, to)),
    sh("exec", "/usr/sbin/sshd", "-D", "-e", "-f", paths2.sshdConfig),
    ""
  ].join("\n");
}
function renderNodeJson(node, opts) {
  return JSON.stringify({ name: node.name, cores: opts.cores, memMb: opts.memMb }, null, 2) + "\n";
}
function buildManifest(nodes, opts, previous) {
  const prev = Manifest.safeParse(previous);
  const keepDb = prev.success && prev.data.db && nodes.some((n) => n.name === prev.data.db?.node) ? prev.data.db : void 0;
  return Manifest.parse({
    version: 1,
    name: CLUSTER_NAME,
    sharedRoot: SHARED_ROOT,
    nodes: nodes.map((n) => ({ name: n.name, address: n.address, cores: opts.cores, memMb: opts.memMb })),
    ...keepDb ? { db: keepDb } : {},
    ...prev.success ? { vcSubnetPool: prev.data.vcSubnetPool } : {},
    clusterNetwork: CLUSTER_NETWORK
  });
}

// main/lab/requirements.ts
import { accessSync, constants } from "node:fs";
import { join as join3 } from "node:path";
var REQUIREMENTS = [
  { tool: "ip", pkg: "iproute2", for: "lab", why: "namespaces, veths, the bridge" },
  { tool: "unshare", pkg: "util-linux", for: "lab", why: "a UTS + mount namespace per node" },
  { tool: "nsenter", pkg: "util-linux", for: "lab", why: "entering a node" },
  { tool: "mount", pkg: "mount", for: "lab", why: "private and shared directories per node" },
  { tool: "sshd", pkg: "openssh-server", for: "lab", why: "one sshd per node" },
  { tool: "ssh-keygen", pkg: "openssh-client", for: "lab", why: "lab and host keys" },
  { tool: "ssh", pkg: "openssh-client", for: "lab", why: "reaching nodes by hand" },
  { tool: "qemu-system-x86_64", pkg: "qemu-system-x86", for: "node", why: "virtual machines" },
  { tool: "qemu-img", pkg: "qemu-utils", for: "node", why: "copy-on-write volumes" },
  { tool: "nft", pkg: "nftables", for: "node", why: "VC insulation and NAT" },
  { tool: "dnsmasq", pkg: "dnsmasq-base", for: "node", why: "replicated DHCP/TFTP/DNS" },
  { tool: "keepalived", pkg: "keepalived", for: "node", why: "the gateway address take-over" },
  { tool: "socat", pkg: "socat", for: "node", why: "unix socket relays" }
];
var SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
function findTool(tool, pathEnv = process.env.PATH ?? "") {
  const dirs = [...pathEnv.split(":").filter((d) => d.startsWith("/")), ...SEARCH_DIRS];
  for (const d of dirs) {
    const f = join3(d, tool);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
    }
  }
  return void 0;
}
function missingPackages(isPresent, reqs = REQUIREMENTS) {
  const pkgs = [];
  for (const r of reqs) if (!isPresent(r.tool) && !pkgs.includes(r.pkg)) pkgs.push(r.pkg);
  return pkgs;
}

// main/lab/tools.ts
var systemEnv = () => ({
  isPresent: (t) => findTool(t) !== void 0,
  aptGet: findTool("apt-get"),
  install: (apt, pkgs) => runLocal(apt, ["install", "-y", "--no-install-recommends", ...pkgs], void 0, { DEBIAN_FRONTEND: "noninteractive" })
});
async function ensureTools(onProgress, env = systemEnv()) {
  const pkgs = missingPackages(env.isPresent);
  if (pkgs.length === 0) return [];
  if (!env.aptGet) {
    const tools = REQUIREMENTS.filter((r2) => pkgs.includes(r2.pkg) && !env.isPresent(r2.tool)).map((r2) => r2.tool);
    throw new VlxError("missing-tool", `missing ${tools.join(", ")}: install the package${pkgs.length > 1 ? "s" : ""} ${pkgs.join(", ")}`, "this machine has no apt-get; install them with its package manager");
  }
  onProgress(`installing ${pkgs.join(" ")} (apt-get install -y --no-install-recommends)`);
  const r = await env.install(env.aptGet, pkgs);
  if (r.code !== 0) {
    throw new VlxError("missing-tool", `apt-get could not install ${pkgs.join(", ")}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`, `install them by hand: apt-get install ${pkgs.join(" ")}`);
  }
  const still = missingPackages(env.isPresent);
  if (still.length > 0) throw new VlxError("missing-tool", `still missing after installing: ${still.join(", ")}`);
  return pkgs;
}

// main/lab/state.ts
import { randomBytes } from "node:crypto";
import { closeSync as closeSync2, existsSync as existsSync4, mkdirSync as mkdirSync3, openSync as openSync2, readFileSync as readFileSync4, renameSync as renameSync2, rmSync, writeFileSync as writeFileSync3, writeSync } from "node:fs";
import { dirname as dirname3 } from "node:path";
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
function readLabState(file) {
  if (!existsSync4(file)) return void 0;
  const parsed = LabState.safeParse(JSON.parse(readFileSync4(file, "utf8")));
  return parsed.success ? parsed.data : void 0;
}
function writeLabState(file, s2) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync3(tmp, JSON.stringify(s2, null, 2) + "\n", { mode: 384 });
  renameSync2(tmp, file);
}
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
var LOCK_ENV = "VLX_LAB_LOCK";
function readLock(lockFile) {
  try {
    const [pid, token] = readFileSync4(lockFile, "utf8").trim().split(/\s+/);
    return { pid: Number(pid), token: token ?? "" };
  } catch {
    return void 0;
  }
}
async function holdLabLock(lockFile, waitMs = 24e4) {
  mkdirSync3(dirname3(lockFile), { recursive: true, mode: 448 });
  const token = randomBytes(12).toString("hex");
  const deadline = Date.now() + waitMs;
  for (; ; ) {
    try {
      const fd = openSync2(lockFile, "wx", 384);
      writeSync(fd, `${process.pid} ${token}`);
      closeSync2(fd);
      return {
        token,
        release: () => {
          if (readLock(lockFile)?.token === token) rmSync(lockFile, { force: true });
        }
      };
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      const holder = readLock(lockFile);
      if (!holder) continue;
      if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !pidAlive(holder.pid)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new VlxError("conflict", `another lab operation (pid ${holder.pid}) is still running`, `wait for it, or remove ${lockFile} if that process is gone`);
      }
      await sleep(100);
    }
  }
}
async function withLabLock(lockFile, fn) {
  const delegated = process.env[LOCK_ENV];
  if (delegated && readLock(lockFile)?.token === delegated) return fn();
  const lock = await holdLabLock(lockFile);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

// main/lab/index.ts
var HOST_MOUNTPOINTS = [SHARED_ROOT, NODE_RUN, NODE_LIB, NODE_ETC, "/run/sshd"];
function requireRoot() {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new VlxError("not-root", "the lab needs root (network namespaces, mounts)", "run it as root, e.g. `sudo vlx lab up`");
  }
}
function paths() {
  return labPaths(checkLabDir(labDir()));
}
async function labUp(raw = {}, onProgress = () => {
}) {
  const opts = checkLabOptions(raw);
  const lp = paths();
  requireRoot();
  await ensureTools(onProgress);
  return withLabLock(lp.lockFile, async () => {
    const nodes = labNodes(opts.nodes);
    const [links, netns] = await Promise.all([hostLinks(), listNetns()]);
    const prev = readLabState(lp.stateFile);
    const running = netns.map(netnsIndexOf).filter((i) => i !== void 0);
    if (running.length > 0) {
      const size = prev?.nodes ?? Math.max(...running);
      if (size !== opts.nodes) {
        throw new VlxError("conflict", `a lab of ${size} nodes is running; asked for ${opts.nodes}`, "run `vlx lab down` first to change the number of nodes");
      }
    }
    prepareFiles(lp, nodes, opts);
    const created = new Set(prev?.createdMountpoints ?? []);
    for (const m of HOST_MOUNTPOINTS) {
      if (!existsSync5(m)) {
        mkdirSync4(m, { recursive: true, mode: 493 });
        created.add(m);
      }
    }
    const upAt = running.length > 0 && prev ? prev.upAt : (/* @__PURE__ */ new Date()).toISOString();
    writeLabState(lp.stateFile, { version: 1, nodes: opts.nodes, cores: opts.cores, memMb: opts.memMb, createdMountpoints: [...created], upAt });
    await ensureBridge(links);
    onProgress(`bridge ${BRIDGE} ${HOST_ADDRESS}/24`);
    const unwired = [];
    for (const n of nodes) {
      if (await nodeWired(n, links, netns)) {
        if (links.get(n.hostVeth)?.flags.includes("UP") === false) await setHostLink(n, "up");
      } else {
        await unwire(n, links, netns);
        unwired.push(n);
      }
    }
    await wireNodes(unwired);
    if (unwired.length > 0) onProgress(`namespaces ${unwired.map((n) => n.netns).join(", ")} on ${BRIDGE}`);
    await bootNodes(lp, nodes, onProgress, unwired);
    register(lp, nodes, opts);
    onProgress(`cluster "${CLUSTER_NAME}" registered and selected`);
    if (raw.afterNodesUp) await raw.afterNodesUp();
    return readStatus(lp);
  });
}
async function unwire(n, links, netns) {
  if (netns.includes(n.netns)) {
    await killNode(n.netns);
    await deleteNetns(n.netns);
  }
  if (links.has(n.hostVeth)) await deleteLink(n.hostVeth);
}
function prepareFiles(lp, nodes, opts) {
  mkdirSync4(lp.root, { recursive: true, mode: 448 });
  mkdirSync4(lp.shared, { recursive: true, mode: 493 });
  if (!existsSync5(lp.key)) keygen(lp.key, "vlx-lab");
  const authorized = readFileSync5(lp.publicKey, "utf8");
  for (const n of nodes) {
    const p = nodePaths(lp.root, n.name);
    for (const d of [p.dir, p.run, p.lib, p.etc, join4(p.home, ".ssh")]) mkdirSync4(d, { recursive: true, mode: 493 });
    chmodSync2(join4(p.home, ".ssh"), 448);
    if (!existsSync5(p.hostKey)) keygen(p.hostKey, `root@${n.name}`);
    writeIfChanged(p.sshdConfig, renderSshdConfig(n, p));
    writeIfChanged(p.startScript, renderStartScript({ node: n, paths: p, shared: lp.shared }));
    writeIfChanged(join4(p.home, ".ssh", "authorized_keys"), authorized);
    writeIfChanged(join4(p.etc, "node.json"), renderNodeJson(n, opts));
  }
}
function keygen(file, comment) {
  rmSync2(file, { force: true });
  rmSync2(`${file}.pub`, { force: true });
  const r = spawnSyncChecked("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  if (r !== 0) throw new VlxError("internal", `ssh-keygen failed for ${file}`);
}
function spawnSyncChecked(cmd, args) {
  return spawnSync(cmd, args, { stdio: "ignore" }).status ?? 1;
}
function writeIfChanged(file, content) {
  if (existsSync5(file) && readFileSync5(file, "utf8") === content) return;
  writeFileSync4(file, content, { mode: 384 });
}
async function bootNodes(lp, nodes, onProgress, fresh = []) {
  const toStart = nodes.filter((n) => !sshdPid(nodePaths(lp.root, n.name)));
  await Promise.all(toStart.map(async (n) => {
    const p = nodePaths(lp.root, n.name);
    if (fresh.includes(n) || (await nodePids(n.netns)).length === 0) clearDir(p.run);
    rmSync2(p.pidFile, { force: true });
    startNode(n, p);
  }));
  if (toStart.length > 0) onProgress(`starting sshd on ${toStart.map((n) => n.name).join(", ")}`);
  await Promise.all(nodes.map((n) => waitForSshd(n, nodePaths(lp.root, n.name))));
  onProgress(`${nodes.length} nodes answer on ssh`);
}
function clearDir(dir) {
  for (const e of readdirSync(dir)) rmSync2(join4(dir, e), { recursive: true, force: true });
}
function register(lp, nodes, opts) {
  const lines = [];
  for (const n of nodes) {
    const [keyType, keyBase64] = readFileSync5(nodePaths(lp.root, n.name).hostKeyPub, "utf8").trim().split(/\s+/);
    if (!keyType || !keyBase64) throw new VlxError("internal", `unreadable host key of lab node ${n.name}`);
    replaceKnownHost(n.address, 22, { keyType, keyBase64 });
    lines.push(`${n.address} ${keyType} ${keyBase64}`);
  }
  writeIfChanged(lp.knownHosts, lines.join("\n") + "\n");
  const manifestFile = join4(lp.shared, "manifest.json");
  let previous;
  try {
    previous = JSON.parse(readFileSync5(manifestFile, "utf8"));
  } catch {
    previous = void 0;
  }
  writeIfChanged(manifestFile, JSON.stringify(buildManifest(nodes, opts, previous), null, 2) + "\n");
  const existing = loadStore().clusters[CLUSTER_NAME];
  putCluster({
    name: CLUSTER_NAME,
    nodes: nodes.map((n) => ({ name: n.name, address: n.address })),
    user: "root",
    port: 22,
    keyFile: lp.key,
    lab: true,
    // A DB deployed earlier on this lab stays known (its password lives only here).
    ...existing?.lab && existing.db && nodes.some((n) => n.name === existing.db?.node) ? { db: existing.db } : {}
  }, true);
}
async function labStatus() {
  return readStatus(paths());
}
async function readStatus(lp) {
  const [links, netns] = await Promise.all([hostLinks(), listNetns()]);
  const st = readLabState(lp.stateFile);
  const found = netns.map(netnsIndexOf).filter((i) => i !== void 0);
  const count = st?.nodes ?? (found.length ? Math.max(...found) : 0);
  const nodes = labNodes(count).map((n) => {
    const link = links.get(n.hostVeth);
    const pid = sshdPid(nodePaths(lp.root, n.name));
    return {
      name: n.name,
      address: n.address,
      netns: netns.includes(n.netns),
      link: !link ? "absent" : link.flags.includes("UP") ? "up" : "down",
      sshd: pid !== void 0,
      ...pid ? { pid } : {}
    };
  });
  const bridge = links.has(BRIDGE);
  const healthy = nodes.filter((n) => n.netns && n.link === "up" && n.sshd).length;
  const anything = bridge || nodes.some((n) => n.netns || n.link !== "absent");
  return {
    state: !anything ? "down" : bridge && nodes.length > 0 && healthy === nodes.length ? "up" : "degraded",
    labDir: lp.root,
    bridge,
    hostAddress: HOST_ADDRESS,
    network: CLUSTER_NETWORK,
    ...st ? { cores: st.cores, memMb: st.memMb } : {},
    nodes
  };
}

// test/integration/support/lab.ts
async function ensureLab(opts = {}) {
  const min = opts.minNodes ?? LAB_DEFAULTS.nodes;
  const s2 = await labStatus();
  const keep = s2.state !== "down" && s2.nodes.length >= min;
  return labUp({
    nodes: keep ? s2.nodes.length : Math.max(min, LAB_DEFAULTS.nodes),
    cores: keep ? s2.cores : void 0,
    memMb: keep ? s2.memMb : void 0,
    afterNodesUp: opts.afterNodesUp
  });
}
function labFiles() {
  const p = labPaths(checkLabDir(labDir()));
  return { key: p.key, knownHosts: p.knownHosts };
}
async function labSsh(address, command, connectTimeoutS = 5) {
  const { key, knownHosts } = labFiles();
  const args = [
    "-i",
    key,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    `ConnectTimeout=${connectTimeoutS}`,
    "-o",
    "LogLevel=ERROR",
    `root@${address}`,
    command
  ];
  try {
    const { stdout, stderr } = await promisify(execFile)("ssh", args);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e;
    return { code: typeof err.code === "number" ? err.code : 255, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

// main/ssh/connection.ts
import ssh22 from "ssh2";
import { connect as netConnect } from "node:net";
import { readFileSync as readFileSync6 } from "node:fs";
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
        return { privateKey: readFileSync6(this.opts.keyFile) };
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

// main/db/deploy.ts
import { randomBytes as randomBytes3 } from "node:crypto";

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
  if (/timeout/i.test(msg) && /connect/i.test(msg)) {
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

// main/db/migrate.ts
import { createHash as createHash2 } from "node:crypto";

// main/db/migrations/001_initial.sql
var initial_default = `-- The cluster's truth: physical nodes, OS images, virtual clusters and their VMs, where
-- each VM runs, every volume on shared storage, and the tasks that changed any of it.
-- Names follow main/util/names.ts so a row can never hold a name the app would refuse
-- to put in a shell command.

create table nodes (
  name        text primary key check (name ~ '^[a-z][a-z0-9-]{0,31}$'),
  address     text not null unique,
  cores       integer not null check (cores > 0),
  mem_mb      integer not null check (mem_mb > 0),
  state       text not null default 'unknown' check (state in ('unknown', 'up', 'down', 'maintenance')),
  -- what the node really has, as last probed (declared capacity above is what placement uses)
  detected    jsonb not null default '{}',
  last_seen   timestamptz,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

create table images (
  name            text primary key check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  kind            text not null check (kind in ('kernel', 'disk')),
  -- paths on shared storage: {"disk": ...} or {"kernel": ..., "initrd": ..., "disk": ...}
  files           jsonb not null default '{}',
  cmdline         text,
  virtual_bytes   bigint check (virtual_bytes >= 0),
  allocated_bytes bigint check (allocated_bytes >= 0),
  description     text,
  created_at      timestamptz not null default now()
);

create table vcs (
  name          text primary key check (name ~ '^[a-z][a-z0-9-]{0,23}$'),
  state         text not null default 'creating' check (state in (
                  'creating', 'created', 'starting', 'running', 'stopping', 'stopped',
                  'saving', 'saved', 'restoring', 'destroying', 'error')),
  vcpus         integer not null check (vcpus between 1 and 1024),
  mem_mb        integer not null check (mem_mb >= 16),
  disk_gb       integer not null check (disk_gb >= 1),
  swap_mb       integer not null default 0 check (swap_mb >= 0),
  image         text not null references images (name) on update cascade on delete restrict,
  subnet        cidr not null unique,
  policy        text not null default 'block' check (policy in ('block', 'cyclic')),
  mode          text not null default 'strict' check (mode in ('strict', 'free')),
  -- mechanism-specific settings (shared storage mount point, kernel cmdline extras, ...)
  options       jsonb not null default '{}',
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  -- two VCs never share an address: overlapping subnets are refused, not only equal ones
  constraint vcs_subnet_no_overlap exclude using gist (subnet inet_ops with &&)
);

create table vms (
  vc            text not null references vcs (name) on update cascade on delete cascade,
  name          text not null check (name ~ '^[a-z][a-z0-9-]{0,31}$'),
  idx           integer not null check (idx >= 0),
  ip            inet not null unique,
  mac           macaddr not null unique,
  state         text not null default 'defined' check (state in (
                  'defined', 'starting', 'running', 'paused', 'stopping', 'stopped',
                  'saving', 'saved', 'restoring', 'migrating', 'error')),
  desired_state text not null default 'stopped' check (desired_state in ('running', 'stopped', 'saved')),
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  primary key (vc, name),
  unique (vc, idx),
  check (family(ip) = 4 and masklen(ip) = 32)
);

-- A VM's address must lie in its VC's subnet: the routes and firewall rules depend on it.
create function vms_ip_in_subnet() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from vcs where name = new.vc and new.ip << subnet) then
    raise exception 'vm %/% address % is outside the subnet of its vc', new.vc, new.name, new.ip
      using errcode = 'check_violation', constraint = 'vms_ip_in_subnet';
  end if;
  return new;
end $$;
create trigger vms_ip_in_subnet before insert or update of ip, vc on vms
  for each row execute function vms_ip_in_subnet();

-- The current placement: one row per VM that has a node (running, paused or saved there).
create table mapping (
  vc     text not null,
  vm     text not null,
  node   text not null references nodes (name) on update cascade on delete restrict,
  since  timestamptz not null default now(),
  primary key (vc, vm),
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade
);
create index mapping_node on mapping (node);

create table volumes (
  id              bigserial primary key,
  path            text not null unique check (path like '/%'),
  kind            text not null check (kind in ('root', 'swap', 'shared', 'state', 'node-root', 'template')),
  format          text not null default 'qcow2' check (format in ('qcow2', 'raw', 'dir', 'state')),
  backing         text,
  vc              text references vcs (name) on update cascade on delete cascade,
  vm              text,
  node            text references nodes (name) on update cascade on delete cascade,
  virtual_bytes   bigint check (virtual_bytes >= 0),
  allocated_bytes bigint check (allocated_bytes >= 0),
  created_at      timestamptz not null default now(),
  foreign key (vc, vm) references vms (vc, name) on update cascade on delete cascade,
  check (kind not in ('root', 'swap', 'state') or (vc is not null and vm is not null)),
  check (kind <> 'shared' or vc is not null or node is not null),
  check (kind <> 'node-root' or node is not null)
);
create index volumes_vc on volumes (vc, vm);
create index volumes_backing on volumes (backing);

create table tasks (
  id               uuid primary key default gen_random_uuid(),
  kind             text not null,
  target           text not null,
  params           jsonb not null default '{}',
  state            text not null default 'running' check (state in ('running', 'succeeded', 'failed', 'cancelled')),
  progress         real not null default 0 check (progress between 0 and 1),
  current_step     text,
  error            jsonb,
  cancel_requested boolean not null default false,
  lock_key         text not null,
  -- which workstation process runs it: "host pid N"
  host             text not null,
  attempts         integer not null default 1,
  started_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  ended_at         timestamptz,
  check ((state = 'running') = (ended_at is null))
);
create index tasks_kind_target on tasks (kind, target, started_at desc);
create index tasks_started on tasks (started_at desc);
create index tasks_unfinished on tasks (lock_key) where state = 'running';

create table task_steps (
  task_id     uuid not null references tasks (id) on delete cascade,
  idx         integer not null check (idx >= 0),
  name        text not null,
  state       text not null default 'pending' check (state in ('pending', 'running', 'done', 'failed', 'skipped')),
  progress    real not null default 0 check (progress between 0 and 1),
  note        text,
  started_at  timestamptz,
  ended_at    timestamptz,
  primary key (task_id, idx)
);

create table task_log (
  id       bigserial primary key,
  task_id  uuid not null references tasks (id) on delete cascade,
  at       timestamptz not null default now(),
  step     integer,
  line     text not null
);
create index task_log_task on task_log (task_id, id);

-- Other workstations follow changes through LISTEN vlx_events. Payloads stay small (ids
-- only, well under NOTIFY's 8000 bytes); listeners read the rows they care about.
-- Identical payloads in one transaction are delivered once, so a batch of log lines
-- costs one notification.
create function vlx_notify() returns trigger language plpgsql as $$
declare
  rec record;
begin
  if tg_op = 'DELETE' then rec := old; else rec := new; end if;
  if tg_table_name = 'tasks' then
    perform pg_notify('vlx_events', json_build_object('type', 'task', 'id', rec.id, 'state', rec.state,
      'cancel', rec.cancel_requested)::text);
  elsif tg_table_name in ('task_steps', 'task_log') then
    perform pg_notify('vlx_events', json_build_object('type', case tg_table_name when 'task_log' then 'log' else 'task' end,
      'id', rec.task_id)::text);
  elsif tg_table_name = 'vcs' then
    perform pg_notify('vlx_events', json_build_object('type', 'vc', 'name', rec.name)::text);
  elsif tg_table_name in ('vms', 'mapping') then
    perform pg_notify('vlx_events', json_build_object('type', 'vc', 'name', rec.vc)::text);
  elsif tg_table_name = 'nodes' then
    perform pg_notify('vlx_events', json_build_object('type', 'node', 'name', rec.name)::text);
  end if;
  return null;
end $$;

create trigger tasks_notify after insert or update on tasks for each row execute function vlx_notify();
create trigger task_steps_notify after update on task_steps for each row execute function vlx_notify();
create trigger task_log_notify after insert on task_log for each row execute function vlx_notify();
create trigger vcs_notify after insert or update or delete on vcs for each row execute function vlx_notify();
create trigger vms_notify after insert or update or delete on vms for each row execute function vlx_notify();
create trigger mapping_notify after insert or update or delete on mapping for each row execute function vlx_notify();
create trigger nodes_notify after insert or update or delete on nodes for each row execute function vlx_notify();

create function touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;
create trigger nodes_touch before update on nodes for each row execute function touch_updated_at();
create trigger vcs_touch before update on vcs for each row execute function touch_updated_at();
create trigger vms_touch before update on vms for each row execute function touch_updated_at();
create trigger tasks_touch before update on tasks for each row execute function touch_updated_at();
`;

// main/db/migrations/index.ts
var MIGRATIONS = [
  { version: 1, name: "001_initial", sql: initial_default }
];

// main/db/migrate.ts
function checksum(sql) {
  return createHash2("sha256").update(sql).digest("hex");
}
function checkMigrationList(list2) {
  list2.forEach((m, i) => {
    if (m.version !== i + 1) throw new VlxError("internal", `migration ${m.name}: expected version ${i + 1}, got ${m.version}`);
    const prefix = String(m.version).padStart(3, "0") + "_";
    if (!m.name.startsWith(prefix)) throw new VlxError("internal", `migration ${m.name}: name must start with ${prefix}`);
    if (!m.sql.trim()) throw new VlxError("internal", `migration ${m.name} is empty`);
  });
}
var ENSURE_TABLE = `create table if not exists schema_migrations (
  version    integer primary key,
  name       text not null,
  checksum   text not null,
  applied_at timestamptz not null default now()
)`;
async function appliedMigrations(q) {
  const exists = await q.query(`select to_regclass('schema_migrations')::text as t`);
  if (!exists.rows[0].t) return [];
  const r = await q.query(
    "select version, name, checksum, applied_at from schema_migrations order by version"
  );
  return r.rows.map((x) => ({ version: x.version, name: x.name, checksum: x.checksum, appliedAt: x.applied_at.toISOString() }));
}
async function migrate(db, list2 = MIGRATIONS) {
  checkMigrationList(list2);
  return db.withAdvisoryLock("schema-migrations", async (q) => {
    await q.query(ENSURE_TABLE);
    const done = await appliedMigrations(q);
    const byVersion = new Map(done.map((d) => [d.version, d]));
    for (const m of list2) {
      const d = byVersion.get(m.version);
      if (d && d.checksum !== checksum(m.sql)) {
        throw new VlxError(
          "db",
          `migration ${m.name} was changed after it was applied to ${db.where}`,
          "never edit an applied migration: add a new one"
        );
      }
    }
    const applied = [];
    for (const m of list2) {
      if (byVersion.has(m.version)) continue;
      await q.query("begin");
      try {
        await q.query(m.sql);
        await q.query("insert into schema_migrations (version, name, checksum) values ($1, $2, $3)", [m.version, m.name, checksum(m.sql)]);
        await q.query("commit");
      } catch (e) {
        await q.query("rollback").catch(() => {
        });
        const err = e;
        throw new VlxError("db", `migration ${m.name} failed: ${err.message}`, void 0, err.details);
      }
      applied.push(m.name);
    }
    return { applied, present: done.map((d) => d.version) };
  }, { wait: true });
}

// main/db/scram.ts
import { createHash as createHash3, createHmac, pbkdf2Sync, randomBytes as randomBytes2 } from "node:crypto";
function scramVerifier(password, salt = randomBytes2(16), iterations = 4096) {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error("scramVerifier: password must be printable ASCII");
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash3("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
function newDbPassword() {
  return randomBytes2(24).toString("base64url");
}

// main/db/deploy.ts
var DB_NAME = "virtualinux";
var DB_ROLE = "vlx";
var LOGIN_ROLE = /^vlx_[0-9a-f]{8}$/;
function newLoginRole() {
  return `vlx_${randomBytes3(4).toString("hex")}`;
}
function roleSql(user, verifier) {
  if (!LOGIN_ROLE.test(user)) throw new VlxError("invalid-input", `db user: must match ${LOGIN_ROLE} (got ${JSON.stringify(user)})`);
  if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) throw new VlxError("internal", "not a SCRAM verifier");
  return [
    `do $$ begin`,
    `  if not exists (select 1 from pg_roles where rolname = '${DB_ROLE}') then create role ${DB_ROLE} nologin; end if;`,
    `  if not exists (select 1 from pg_roles where rolname = '${user}') then create role ${user} login; end if;`,
    `end $$;`,
    `grant ${DB_ROLE} to ${user};`,
    `alter role ${user} login password '${verifier}';`,
    // every session acts as the owner: objects it creates belong to vlx, whoever migrated
    `alter role ${user} set role = '${DB_ROLE}';`,
    `select 'create database ${DB_NAME} owner ${DB_ROLE}' where not exists (select 1 from pg_database where datname = '${DB_NAME}') \\gexec`,
    ""
  ].join("\n");
}
var DEFAULT_DB_PORT = 5432;
var PG_ROOT = `${NODE_LIB}/pg`;
var DATA = `${PG_ROOT}/data`;
var SOCKETS = `${PG_ROOT}/run`;
var LOG = `${PG_ROOT}/log/postgresql.log`;
var INIT_DONE = `${PG_ROOT}/initdb.done`;
var DEPLOY_STEPS = ["probe", "initdb", "configure", "start", "role", "migrate", "record"];
var CIDR = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/;
function checkCidr(value, field) {
  const [ip, len] = value.split("/");
  if (!CIDR.test(value) || !isIPv4(ip) || Number(len) > 32) throw new VlxError("invalid-input", `${field}: must be an IPv4 network like 10.77.0.0/24 (got ${JSON.stringify(value)})`);
  return value;
}
function renderPgConf(o) {
  return [
    "# Written by `vlx db deploy`; replaced on every deploy.",
    `listen_addresses = '${o.address},localhost'`,
    `port = ${o.port}`,
    // node-private, so several lab nodes sharing the host's /run cannot collide on the socket
    `unix_socket_directories = '${SOCKETS}'`,
    `password_encryption = scram-sha-256`,
    // a workstation that vanishes must not hold its VC locks for hours
    "tcp_keepalives_idle = 30",
    "tcp_keepalives_interval = 10",
    "tcp_keepalives_count = 3",
    "max_connections = 200",
    ""
  ].join("\n");
}
function renderPgHba(allow) {
  const uniq = [...new Set(allow)];
  return [
    "# Written by `vlx db deploy`; replaced on every deploy.",
    "local   all          all                   peer",
    "host    all          all   127.0.0.1/32    scram-sha-256",
    ...uniq.map((net) => `host    ${DB_NAME}  +${DB_ROLE}  ${net.padEnd(15)} scram-sha-256`),
    ""
  ].join("\n");
}
function writeIfChanged2(path) {
  const script = 'umask 077; t="$1.vlx-tmp"; cat > "$t" || exit 1; if cmp -s "$t" "$1"; then rm -f "$t"; echo same; else mv "$t" "$1"; echo changed; fi';
  return sh("runuser", "-u", "postgres", "--", "sh", "-c", script, "sh", path);
}
function asPostgres(...argv) {
  return sh("runuser", "-u", "postgres", "--", ...argv);
}
async function probe(conn) {
  const script = [
    "bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)",
    'echo "bin=$bin"',
    'echo "client=${SSH_CLIENT%% *}"',
    'id -u postgres >/dev/null 2>&1 && echo "user=postgres"',
    "true"
  ].join("\n");
  const out = await conn.run(script);
  const kv = Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  if (!kv.bin || kv.user !== "postgres") {
    throw new VlxError(
      "missing-tool",
      `node ${conn.name} has no PostgreSQL server (looked in /usr/lib/postgresql/*/bin)`,
      `install it on the node: apt-get install postgresql`
    );
  }
  const m = await conn.exec(sh("cat", `${SHARED_ROOT}/manifest.json`));
  let manifest;
  if (m.code === 0) {
    try {
      manifest = JSON.parse(m.stdout);
    } catch {
      throw new VlxError("internal", `${SHARED_ROOT}/manifest.json on node ${conn.name} is not valid JSON`);
    }
  }
  return { bin: kv.bin, ...kv.client && isIPv4(kv.client) ? { client: kv.client } : {}, ...manifest ? { manifest } : {} };
}
function sameNet(ip, cidr) {
  const toInt = (a) => a.split(".").reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const [net, len] = cidr.split("/");
  const mask = Number(len) === 0 ? 0 : ~0 << 32 - Number(len) >>> 0;
  return (toInt(ip) & mask) >>> 0 === (toInt(net) & mask) >>> 0;
}
async function deployDatabase(session, opts) {
  const nodeName = checkName("node", opts.node, "node");
  const port = opts.port === void 0 ? DEFAULT_DB_PORT : checkInt(opts.port, "port", 1, 65535);
  const extra = (opts.allow ?? []).map((c) => checkCidr(c, "allow"));
  const report = (step3, note) => {
    opts.onProgress?.({ step: step3, index: DEPLOY_STEPS.indexOf(step3) + 1, total: DEPLOY_STEPS.length, note });
  };
  const conn = await session.node(nodeName);
  report("probe", `looking for PostgreSQL on ${nodeName}`);
  const p = await probe(conn);
  const bin = (tool) => `${p.bin}/${tool}`;
  report("initdb", "checking the data directory");
  const inited = await conn.exec(sh("test", "-f", INIT_DONE));
  if (inited.code !== 0) {
    const parents = PG_ROOT.split("/").slice(1, -1).map((_, i, a) => "/" + a.slice(0, i + 1).join("/"));
    const prepare = [
      ...parents.map((d) => `${asPostgres("test", "-x", d)} || ${sh("chmod", "o+x", d)}`),
      sh("mkdir", "-p", PG_ROOT, `${PG_ROOT}/log`, SOCKETS),
      sh("chown", "postgres:postgres", PG_ROOT, `${PG_ROOT}/log`, SOCKETS),
      sh("chmod", "0700", PG_ROOT),
      sh("rm", "-rf", DATA)
    ].join(" && ");
    await conn.run(prepare);
    report("initdb", "initdb (a few seconds)");
    await conn.run(asPostgres(
      "sh",
      "-c",
      'cat | exec "$0" -D "$1" --auth-host=scram-sha-256 --auth-local=peer -U postgres --pwfile=/dev/stdin -E UTF8 --no-locale',
      bin("initdb"),
      DATA
    ), { stdin: randomBytes3(24).toString("base64url") + "\n", timeoutMs: 12e4 });
    await conn.run(sh("touch", INIT_DONE));
  } else {
    report("initdb", "already initialised");
  }
  report("configure", "postgresql.conf and pg_hba.conf");
  await conn.run(sh("mkdir", "-p", `${PG_ROOT}/log`, SOCKETS) + " && " + sh("chown", "postgres:postgres", `${PG_ROOT}/log`, SOCKETS));
  const clusterNet = typeof p.manifest?.clusterNetwork === "string" ? checkCidr(p.manifest.clusterNetwork, "manifest clusterNetwork") : void 0;
  const allow = [
    ...clusterNet ? [clusterNet] : isIPv4(conn.address) ? [`${conn.address}/32`] : [],
    ...p.client && !(clusterNet && sameNet(p.client, clusterNet)) ? [`${p.client}/32`] : [],
    ...extra
  ];
  const confChanged = (await conn.run(writeIfChanged2(`${DATA}/vlx.conf`), { stdin: renderPgConf({ address: conn.address, port }) })).trim() === "changed";
  const hbaChanged = (await conn.run(writeIfChanged2(`${DATA}/pg_hba.conf`), { stdin: renderPgHba(allow) })).trim() === "changed";
  await conn.run(`grep -qx ${sh("include_if_exists = 'vlx.conf'")} ${sh(`${DATA}/postgresql.conf`)} || echo ${sh("include_if_exists = 'vlx.conf'")} >> ${sh(`${DATA}/postgresql.conf`)}`);
  const status2 = await conn.exec(asPostgres(bin("pg_ctl"), "-D", DATA, "status"));
  const pgctl = (...args) => asPostgres(bin("pg_ctl"), "-D", DATA, "-l", LOG, "-w", "-t", "60", ...args);
  if (status2.code !== 0) {
    report("start", `starting PostgreSQL on ${conn.address}:${port}`);
    await conn.run(pgctl("start"), { timeoutMs: 9e4 });
  } else if (confChanged) {
    report("start", "restarting PostgreSQL for the new settings");
    await conn.run(pgctl("-m", "fast", "restart"), { timeoutMs: 9e4 });
  } else if (hbaChanged) {
    report("start", "reloading the access rules");
    await conn.run(asPostgres(bin("pg_ctl"), "-D", DATA, "reload"));
  } else {
    report("start", "already running");
  }
  report("role", `role ${DB_ROLE} and database ${DB_NAME}`);
  const cluster = loadStore().clusters[session.config.name] ?? session.config;
  const known = cluster.db && cluster.db.node === nodeName && cluster.db.port === port && LOGIN_ROLE.test(cluster.db.user) ? cluster.db : void 0;
  const endpoint = {
    node: nodeName,
    host: conn.address,
    port,
    database: DB_NAME,
    user: known?.user ?? newLoginRole(),
    password: known?.password ?? newDbPassword()
  };
  const loginError = await canLogin(endpoint);
  if (loginError && loginError.code === "unreachable") {
    throw new VlxError(
      "unreachable",
      `PostgreSQL runs on ${nodeName} but this workstation cannot reach ${conn.address}:${port}: ${loginError.message}`,
      "check the route and any firewall between this machine and the node"
    );
  }
  if (loginError) {
    await conn.run(
      asPostgres(bin("psql"), "-h", SOCKETS, "-p", String(port), "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atq", "-f", "-"),
      { stdin: roleSql(endpoint.user, scramVerifier(endpoint.password)) }
    );
    const again = await canLogin(endpoint);
    if (again) throw again;
    report("role", `login role ${endpoint.user} for this workstation`);
  }
  const latest = loadStore().clusters[session.config.name];
  if (latest) {
    if (JSON.stringify(latest.db) !== JSON.stringify(endpoint)) putCluster({ ...latest, db: endpoint });
  } else {
    putCluster({ ...session.config, db: endpoint });
  }
  report("migrate", "applying migrations");
  const db = openDb(endpoint);
  try {
    const r = await migrate(db);
    report("migrate", r.applied.length ? `applied ${r.applied.join(", ")}` : "schema up to date");
  } finally {
    await db.close();
  }
  if (p.manifest) {
    const want = { node: nodeName, host: conn.address, port };
    if (JSON.stringify(p.manifest.db) !== JSON.stringify(want)) {
      const next = JSON.stringify({ ...p.manifest, db: want }, null, 2) + "\n";
      const file = `${SHARED_ROOT}/manifest.json`;
      await conn.run(`cat > ${sh(`${file}.vlx-tmp`)} && mv ${sh(`${file}.vlx-tmp`, file)}`, { stdin: next });
      report("record", `endpoint ${conn.address}:${port} recorded in the manifest`);
    } else {
      report("record", "manifest already up to date");
    }
  } else {
    report("record", `no ${SHARED_ROOT}/manifest.json on ${nodeName}: endpoint kept in this workstation's config only`);
  }
  return endpoint;
}
async function canLogin(endpoint) {
  const db = openDb(endpoint, { max: 1, connectTimeoutMs: 5e3 });
  try {
    await db.query("select 1");
    return void 0;
  } catch (e) {
    return e;
  } finally {
    await db.close();
  }
}

// main/images/tiny.ts
import { createHash as createHash5 } from "node:crypto";
import { copyFileSync, existsSync as existsSync7, mkdirSync as mkdirSync6, readFileSync as readFileSync8, renameSync as renameSync4, statSync as statSync2, writeFileSync as writeFileSync6 } from "node:fs";
import { join as join7 } from "node:path";

// main/images/cpio.ts
import { gzipSync } from "node:zlib";
var S_IFDIR = 16384;
var S_IFREG = 32768;
var S_IFLNK = 40960;
var S_IFCHR = 8192;
function hex8(n) {
  return n.toString(16).padStart(8, "0");
}
function pad4(len) {
  return Buffer.alloc((4 - len % 4) % 4);
}
function header(ino, mode, nlink, size, rmaj, rmin, nameLen) {
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, nameLen, 0];
  return Buffer.from("070701" + fields.map(hex8).join(""), "ascii");
}
function member(ino, mode, nlink, name, data, rmaj = 0, rmin = 0) {
  const nameBuf = Buffer.from(name + "\0", "utf8");
  const h = header(ino, mode, nlink, data.length, rmaj, rmin, nameBuf.length);
  return [h, nameBuf, pad4(h.length + nameBuf.length), data, pad4(data.length)];
}
function normalise(path) {
  const p = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (!p || p.split("/").some((s2) => s2 === ".." || s2 === "")) throw new Error(`cpio: bad path ${JSON.stringify(path)}`);
  return p;
}
function cpioNewc(entries) {
  const byPath = /* @__PURE__ */ new Map();
  for (const e of entries) {
    const p = normalise(e.path);
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!byPath.has(dir)) byPath.set(dir, { type: "dir", path: dir });
    }
    byPath.set(p, { ...e, path: p });
  }
  const out = [];
  let ino = 1;
  for (const p of [...byPath.keys()].sort()) {
    const e = byPath.get(p);
    switch (e.type) {
      case "dir":
        out.push(...member(ino++, S_IFDIR | (e.mode ?? 493), 2, p, Buffer.alloc(0)));
        break;
      case "file":
        out.push(...member(ino++, S_IFREG | (e.mode ?? 420), 1, p, e.data));
        break;
      case "symlink":
        out.push(...member(ino++, S_IFLNK | 511, 1, p, Buffer.from(e.target, "utf8")));
        break;
      case "char":
        out.push(...member(ino++, S_IFCHR | (e.mode ?? 384), 1, p, Buffer.alloc(0), e.major, e.minor));
        break;
    }
  }
  out.push(...member(0, 0, 1, "TRAILER!!!", Buffer.alloc(0)));
  return Buffer.concat(out);
}
function gzipReproducible(data) {
  return gzipSync(data, { level: 9 });
}

// main/images/debs.ts
import { createHash as createHash4 } from "node:crypto";
import { existsSync as existsSync6, mkdirSync as mkdirSync5, readFileSync as readFileSync7, renameSync as renameSync3, rmSync as rmSync3, writeFileSync as writeFileSync5 } from "node:fs";
import { join as join5 } from "node:path";
var PKG_RE = /^[a-z0-9][a-z0-9+.-]+$/;
function checkPkg(name) {
  if (!PKG_RE.test(name)) throw new VlxError("invalid-input", `package: not a Debian package name (got ${JSON.stringify(name)})`);
  return name;
}
function parseAptShow(text) {
  return text.split(/\n\s*\n/).map((stanza) => {
    const out = {};
    let last = "";
    for (const line of stanza.split("\n")) {
      if (/^\s/.test(line) && last) out[last] += "\n" + line.trim();
      else {
        const m = line.match(/^([A-Za-z0-9-]+):\s?(.*)$/);
        if (m) out[last = m[1]] = m[2];
      }
    }
    return out;
  }).filter((s2) => s2.Package);
}
async function candidate(run3, name) {
  const r = await run3.exec(sh("apt-cache", "show", "--no-all-versions", checkPkg(name)));
  const s2 = parseAptShow(r.stdout)[0];
  if (r.code !== 0 || !s2) {
    throw new VlxError("missing-tool", `package ${name} is unknown to apt on this workstation`, "run `apt-get update` (the build needs the Debian mirror or a cached copy)");
  }
  return { name: s2.Package, version: s2.Version, arch: s2.Architecture, depends: s2.Depends ?? "" };
}
async function resolveCloudKernel(run3) {
  const meta = await candidate(run3, "linux-image-cloud-amd64");
  const dep = meta.depends.split(",").map((d) => d.trim().split(/\s/)[0]).find((d) => /^linux-image-\d.*-cloud-amd64$/.test(d));
  if (!dep) throw new VlxError("internal", `linux-image-cloud-amd64 ${meta.version} names no versioned kernel package (Depends: ${meta.depends})`);
  const pkg = await candidate(run3, dep);
  return { ...pkg, kernelRelease: dep.replace(/^linux-image-/, "") };
}
function debFileName(p) {
  return `${p.name}_${p.version.replace(/:/g, "%3a")}_${p.arch}.deb`;
}
async function fetchDeb(run3, p, cacheDir) {
  const dir = join5(cacheDir, "debs");
  const file = join5(dir, debFileName(p));
  if (existsSync6(file)) return file;
  mkdirSync5(dir, { recursive: true });
  const r = await run3.exec(`cd ${sh(dir)} && ${sh("apt-get", "-o", "APT::Sandbox::User=root", "-q", "download", `${p.name}=${p.version}`)}`, { timeoutMs: 6e5 });
  if (r.code !== 0 || !existsSync6(file)) {
    throw new VlxError("unreachable", `could not download ${p.name} ${p.version}: ${r.stderr.trim().slice(-400)}`, "the image is built on the workstation: it needs the Debian mirror (or the .deb in the cache)");
  }
  return file;
}
async function unpackDeb(run3, debFile, cacheDir) {
  const base = debFile.split("/").pop().replace(/\.deb$/, "");
  const dest = join5(cacheDir, "unpacked", base);
  if (existsSync6(join5(dest, ".vlx-complete"))) return dest;
  const tmp = `${dest}.tmp`;
  rmSync3(tmp, { recursive: true, force: true });
  mkdirSync5(tmp, { recursive: true });
  await run3.run(sh("dpkg-deb", "-x", debFile, tmp), { timeoutMs: 3e5 });
  writeFileSync5(join5(tmp, ".vlx-complete"), "");
  rmSync3(dest, { recursive: true, force: true });
  renameSync3(tmp, dest);
  return dest;
}
async function resolveCached(run3, cacheDir, key, resolve) {
  const stamp = createHash4("sha256").update(await run3.run("ls -l --time-style=+%s /var/lib/apt/lists /etc/apt/sources.list.d 2>/dev/null; true")).digest("hex");
  const file = join5(cacheDir, "apt-resolved.json");
  let memo = {};
  try {
    memo = JSON.parse(readFileSync7(file, "utf8"));
  } catch {
    memo = {};
  }
  if (memo[key]?.stamp === stamp) return memo[key].value;
  const value = await resolve();
  memo[key] = { stamp, value };
  mkdirSync5(cacheDir, { recursive: true });
  writeFileSync5(`${file}.tmp`, JSON.stringify(memo, null, 2));
  renameSync3(`${file}.tmp`, file);
  return value;
}

// main/images/local.ts
import { spawn as spawn3 } from "node:child_process";
function localRunner() {
  const exec = (command, opts = {}) => new Promise((resolve, reject) => {
    const child = spawn3("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = opts.timeoutMs ? setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs) : void 0;
    const onAbort = () => void child.kill("SIGKILL");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (c) => {
      stdout += c;
      opts.onStdout?.(c);
    });
    child.stderr.setEncoding("utf8").on("data", (c) => {
      stderr += c;
      opts.onStderr?.(c);
    });
    child.on("error", (e) => reject(new VlxError("internal", `local: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (timedOut) return reject(new VlxError("timeout", `local: ${command.slice(0, 200)}: no end within ${opts.timeoutMs} ms`));
      if (opts.signal?.aborted) return reject(new VlxError("cancelled", `local: ${command.slice(0, 200)}: cancelled`));
      resolve({ code: code ?? -1, ...signal ? { signal } : {}, stdout, stderr });
    });
    child.stdin.on("error", () => void 0);
    child.stdin.end(opts.stdin ?? "");
  });
  return {
    name: "local",
    exec,
    async run(command, opts) {
      const r = await exec(command, opts);
      if (r.code !== 0) {
        throw new VlxError("remote-failed", `local: \`${command.slice(0, 300)}\` exited ${r.code}: ${r.stderr.trim().slice(-800)}`, void 0, { ...r });
      }
      return r.stdout;
    }
  };
}

// main/images/modules.ts
function parseModulesDep(text) {
  const deps = /* @__PURE__ */ new Map();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    deps.set(line.slice(0, i).trim(), line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}
function moduleName(path) {
  return path.split("/").pop().replace(/\.ko(\.(xz|zst|gz))?$/, "").replace(/-/g, "_");
}
function moduleClosure(deps, wanted) {
  const byName = /* @__PURE__ */ new Map();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const order = [];
  const state2 = /* @__PURE__ */ new Map();
  const visit = (path, chain) => {
    const s2 = state2.get(path);
    if (s2 === "done") return;
    if (s2 === "visiting") throw new Error(`modules.dep has a cycle: ${[...chain, path].map(moduleName).join(" -> ")}`);
    state2.set(path, "visiting");
    for (const d of deps.get(path) ?? []) {
      if (!deps.has(d)) throw new Error(`modules.dep: ${moduleName(path)} needs ${d}, which is not listed`);
      visit(d, [...chain, path]);
    }
    state2.set(path, "done");
    order.push(path);
  };
  for (const w of wanted) {
    const path = byName.get(w.replace(/-/g, "_"));
    if (!path) throw new Error(`kernel module ${w} is not in this kernel's modules.dep`);
    visit(path, []);
  }
  return order;
}

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

// main/images/tinyInit.ts
function renderTinyInit(input) {
  const insmod = (mods) => mods.map((m) => `  insmod /lib/modules/${m} 2>/dev/null`).join("\n");
  return `#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mkdir -p /proc /sys /dev /tmp /run /root /shared
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
load() {
${insmod(input.bootModules)}
}
load

IP= GW= NAME=vlx-guest VC= SHARED=
for w in $(cat /proc/cmdline); do
  case "$w" in
    vlx.ip=*) IP="\${w#vlx.ip=}" ;;
    vlx.gw=*) GW="\${w#vlx.gw=}" ;;
    vlx.name=*) NAME="\${w#vlx.name=}" ;;
    vlx.vc=*) VC="\${w#vlx.vc=}" ;;
    vlx.shared=*) SHARED="\${w#vlx.shared=}" ;;
  esac
done
hostname "$NAME"
echo "$NAME" > /etc/hostname
echo "$VC" > /etc/vlx-vc
ip link set lo up
if [ -n "$IP" ]; then
  ip link set eth0 up
  ip addr add "$IP" dev eth0
  # onlink: in the routed design the gateway is the node's tap, reachable whatever the prefix.
  [ -n "$GW" ] && ip route add default via "$GW" dev eth0 onlink
fi
if [ -n "$SHARED" ]; then
  loadnfs() {
${insmod(input.nfsModules)}
  }
  loadnfs
  mount -t nfs -o vers=3,nolock,soft,timeo=50 "$SHARED" /shared || echo "vlx-shared-failed $SHARED" > /dev/console
fi
# The ACPI power button (QMP system_powerdown) becomes a clean poweroff.
acpid -c /etc/acpi
ADDR="\${IP%/*}"
echo "${READY_MARKER} $NAME \${ADDR:-none}" > /dev/console
exec /bin/busybox init
`;
}
var TINY_INITTAB = `ttyS0::respawn:-/bin/sh
::ctrlaltdel:/sbin/poweroff -f
::shutdown:/bin/umount -a -r
`;
var TINY_PROFILE = `export PS1="\\$(hostname):\\w# "
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
`;
var TINY_ACPI_POWER = `#!/bin/sh
poweroff
`;

// main/images/types.ts
import { join as join6 } from "node:path";
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
function imagePaths(name, dir = sharedImagesDir()) {
  checkName("image", name);
  return {
    dir,
    kernel: join6(dir, `${name}.kernel`),
    initrd: join6(dir, `${name}.initrd`),
    qcow2: join6(dir, `${name}.qcow2`),
    json: join6(dir, `${name}.json`)
  };
}
function sharedImagesDir(root = SHARED_ROOT) {
  return join6(root, "images");
}

// main/images/tiny.ts
var TINY_FORMAT = 3;
var TINY_BOOT_MODULES = ["virtio_pci", "failover", "net_failover", "virtio_net", "virtio_blk", "button", "evdev"];
var TINY_NFS_MODULES = ["nfsv3"];
var TINY_CMDLINE = "console=ttyS0 quiet";
var TINY_DISK = "1G";
function cacheRoot() {
  return join7(appHome(), "cache");
}
function readMeta(file) {
  try {
    return ImageMetaSchema.parse(JSON.parse(readFileSync8(file, "utf8")));
  } catch {
    return void 0;
  }
}
async function buildTiny(opts = {}) {
  const name = checkName("image", opts.name ?? "tiny", "name");
  const run3 = opts.run ?? localRunner();
  const log = opts.log ?? (() => void 0);
  const cache = opts.cacheDir ?? cacheRoot();
  const outDir = join7(cache, "images", name);
  const files = imagePaths(name, outDir);
  log("resolving packages");
  const { kernel, busybox } = await resolveCached(run3, cache, "tiny", async () => ({
    kernel: await resolveCloudKernel(run3),
    busybox: await candidate(run3, "busybox-static")
  }));
  log(`fetching ${kernel.name} ${kernel.version}, busybox-static ${busybox.version}`);
  const [kdeb, bdeb] = await Promise.all([fetchDeb(run3, kernel, cache), fetchDeb(run3, busybox, cache)]);
  const [ktree, btree] = await Promise.all([unpackDeb(run3, kdeb, cache), unpackDeb(run3, bdeb, cache)]);
  const relDir = join7(ktree, "lib", "modules", kernel.kernelRelease);
  if (!existsSync7(join7(relDir, "modules.dep"))) {
    await run3.run(sh("depmod", "-b", ktree, kernel.kernelRelease));
  }
  const deps = parseModulesDep(readFileSync8(join7(relDir, "modules.dep"), "utf8"));
  const boot = moduleClosure(deps, TINY_BOOT_MODULES);
  const nfs = moduleClosure(deps, TINY_NFS_MODULES).filter((m) => !boot.includes(m));
  const flat = (p) => p.split("/").pop();
  const init = renderTinyInit({ bootModules: boot.map(flat), nfsModules: nfs.map(flat) });
  const inputs = createHash5("sha256").update(JSON.stringify({ TINY_FORMAT, kdeb: kdeb.split("/").pop(), bdeb: bdeb.split("/").pop(), init, TINY_INITTAB, TINY_PROFILE, TINY_ACPI_POWER, TINY_CMDLINE, TINY_DISK, boot, nfs })).digest("hex");
  const cached = readMeta(files.json);
  if (cached && cached.inputs === inputs && [files.kernel, files.initrd, files.qcow2].every((f) => existsSync7(f))) {
    log("cached build is up to date");
    return { meta: cached, files, rebuilt: false };
  }
  log("building initramfs");
  const busyboxBin = readFileSync8(join7(btree, "bin", "busybox"));
  const entries = [
    { type: "file", path: "init", data: Buffer.from(init), mode: 493 },
    { type: "file", path: "bin/busybox", data: busyboxBin, mode: 493 },
    { type: "symlink", path: "bin/sh", target: "busybox" },
    { type: "char", path: "dev/console", major: 5, minor: 1 },
    { type: "char", path: "dev/null", major: 1, minor: 3, mode: 438 },
    { type: "file", path: "etc/inittab", data: Buffer.from(TINY_INITTAB) },
    { type: "file", path: "etc/profile", data: Buffer.from(TINY_PROFILE) },
    { type: "file", path: "etc/passwd", data: Buffer.from("root:x:0:0:root:/root:/bin/sh\n") },
    { type: "file", path: "etc/group", data: Buffer.from("root:x:0:\n") },
    { type: "file", path: "etc/acpi/PWRF/00000080", data: Buffer.from(TINY_ACPI_POWER), mode: 493 },
    { type: "dir", path: "root", mode: 448 },
    // busybox --install -s links applets into these; it does not create them.
    { type: "dir", path: "sbin" },
    { type: "dir", path: "usr/bin" },
    { type: "dir", path: "usr/sbin" },
    { type: "dir", path: "proc" },
    { type: "dir", path: "sys" },
    { type: "dir", path: "tmp", mode: 1023 },
    ...[...boot, ...nfs].map((m) => ({ type: "file", path: `lib/modules/${flat(m)}`, data: readFileSync8(join7(relDir, m)) }))
  ];
  const initrd = gzipReproducible(cpioNewc(entries));
  mkdirSync6(outDir, { recursive: true });
  const tmp = (f) => `${f}.tmp`;
  copyFileSync(join7(ktree, "boot", `vmlinuz-${kernel.kernelRelease}`), tmp(files.kernel));
  writeFileSync6(tmp(files.initrd), initrd);
  await run3.run(`rm -f ${sh(tmp(files.qcow2))} && ${sh("qemu-img", "create", "-q", "-f", "qcow2", tmp(files.qcow2), TINY_DISK)}`);
  const meta = {
    name,
    kind: "kernel",
    guest: "busybox",
    cmdline: TINY_CMDLINE,
    createdAt: (/* @__PURE__ */ new Date()).toISOString(),
    sizes: {
      kernel: statSync2(tmp(files.kernel)).size,
      initrd: initrd.length,
      qcow2: statSync2(tmp(files.qcow2)).size,
      qcow2Virtual: 1024 ** 3
    },
    inputs,
    kernelRelease: kernel.kernelRelease
  };
  for (const f of [files.kernel, files.initrd, files.qcow2]) renameSync4(tmp(f), f);
  writeFileSync6(files.json, JSON.stringify(meta, null, 2) + "\n");
  log(`built ${name}: kernel ${meta.sizes.kernel} B, initrd ${meta.sizes.initrd} B`);
  return { meta, files, rebuilt: true };
}
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

// main/images/library.ts
import { createHash as createHash6, randomBytes as randomBytes4 } from "node:crypto";
import { createReadStream, readFileSync as readFileSync9 } from "node:fs";
import { posix as posix2 } from "node:path";

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

// main/images/library.ts
var SEP = "";
function splitRecords(out) {
  return out.split(SEP).slice(1).map((rec) => {
    const nl = rec.indexOf("\n");
    return { key: rec.slice(0, nl), body: rec.slice(nl + 1) };
  });
}
async function readImageMeta(conn, name, root = SHARED_ROOT) {
  const p = storagePaths(root).image(checkName("image", name, "image"));
  const r = await conn.exec(sh("cat", p.meta));
  if (r.code !== 0) return void 0;
  return ImageMetaSchema.parse(JSON.parse(r.stdout));
}
async function volumesUsing(conn, name, root = SHARED_ROOT) {
  const sp = storagePaths(root);
  const template = sp.image(checkName("image", name, "image")).disk;
  const out = await conn.run(
    `for f in ${sh(sp.vcRoot)}/*/*.qcow2 ${sh(posix2.join(root, "cluster"))}/*/*.qcow2; do [ -f "$f" ] || continue; printf '\\036%s\\n' "$f"; qemu-img info -U --output=json "$f" 2>/dev/null; done`,
    { timeoutMs: 12e4 }
  );
  const users = [];
  for (const { key, body } of splitRecords(out)) {
    try {
      const info = JSON.parse(body);
      const b = info["full-backing-filename"] ?? info["backing-filename"];
      if (b && posix2.resolve(posix2.dirname(key), b) === template) users.push(key);
    } catch {
    }
  }
  return users;
}
async function uploadFile(conn, localPath, remotePath, opts = {}) {
  if (!remotePath.startsWith("/")) throw new VlxError("invalid-input", `remotePath: must be absolute (got ${JSON.stringify(remotePath)})`);
  const tmp = `${remotePath}.upload-${randomBytes4(4).toString("hex")}`;
  const data = readFileSync9(localPath);
  const chmod = opts.mode ? ` && ${sh("chmod", opts.mode, tmp)}` : "";
  const r = await conn.exec(
    `${sh("mkdir", "-p", posix2.dirname(remotePath))} && ${sh("cat")} > ${sh(tmp)}${chmod} && ${sh("mv", "-f", tmp, remotePath)} || { rm -f ${sh(tmp)}; exit 1; }`,
    { stdin: data, timeoutMs: 6e5 }
  );
  if (r.code !== 0) throw new VlxError("remote-failed", `${conn.name}: upload of ${localPath} to ${remotePath} failed: ${r.stderr.trim()}`);
}
async function publishImage(conn, img, opts = {}) {
  const root = opts.root ?? SHARED_ROOT;
  const log = opts.log ?? (() => void 0);
  const name = checkName("image", img.meta.name, "image");
  const dst = storagePaths(root).image(name);
  const existing = await readImageMeta(conn, name, root).catch(() => void 0);
  const present = await conn.exec(
    [dst.disk, ...img.files.kernel ? [dst.kernel] : [], ...img.files.initrd ? [dst.initrd] : []].map((f) => sh("test", "-f", f)).join(" && ")
  );
  if (existing && existing.inputs === img.meta.inputs && present.code === 0) {
    log(`${name} on shared storage is up to date`);
    return { status: "up-to-date", name, replaced: false };
  }
  if (existing || present.code === 0) {
    const users = await volumesUsing(conn, name, root);
    if (users.length > 0) {
      const shown = users.slice(0, 5).map((u) => posix2.relative(root, u)).join(", ");
      throw new VlxError(
        "conflict",
        `image ${name} differs from the one on shared storage, which is the template of ${users.length} volume(s) (${shown}${users.length > 5 ? ", \u2026" : ""}); a template in use is never rebuilt in place`,
        `build it under a new name (--name ${name}-2), or destroy the VCs that use it first`
      );
    }
  }
  const pairs = [[img.files.qcow2, dst.disk]];
  if (img.files.kernel) pairs.push([img.files.kernel, dst.kernel]);
  if (img.files.initrd) pairs.push([img.files.initrd, dst.initrd]);
  for (const [src, to] of pairs) {
    log(`uploading ${posix2.basename(to)}`);
    await uploadFile(conn, src, to, { mode: "0444" });
  }
  const metaTmp = `${dst.meta}.upload-${randomBytes4(4).toString("hex")}`;
  await conn.run(`cat > ${sh(metaTmp)} && ${sh("chmod", "0444", metaTmp)} && ${sh("mv", "-f", metaTmp, dst.meta)}`, {
    stdin: JSON.stringify(img.meta, null, 2) + "\n"
  });
  return { status: "published", name, replaced: Boolean(existing) };
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
    const logLine = (step3, line) => {
      const at = (/* @__PURE__ */ new Date()).toISOString();
      for (const l of line.split("\n")) {
        logs.push({ at, step: step3, line: l });
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
        const step3 = steps[i];
        if (step3.state === "done" || step3.state === "skipped") continue;
        await flushed();
        const go = await db.query(
          `update tasks set current_step = $2, progress = $3 where id = $1 and not cancel_requested returning id`,
          [id, step3.name, overallProgress(steps)]
        );
        if (go.rowCount === 0 || ctl.signal.aborted) {
          state2 = "cancelled";
          break;
        }
        currentStep = step3.name;
        step3.state = "running";
        step3.progress = 0;
        step3.note = void 0;
        await db.query(`update task_steps set state = 'running', progress = 0, note = null, started_at = now(), ended_at = null where task_id = $1 and idx = $2`, [id, i]);
        emitTask();
        const ctx = {
          taskId: id,
          signal: ctl.signal,
          log: (line) => logLine(i, line),
          progress: (fraction, note) => {
            step3.progress = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
            if (note !== void 0) step3.note = note;
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
            step3.state = "pending";
            step3.note = "interrupted by cancel";
            await db.query(`update task_steps set state = 'pending', note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, step3.note]);
            state2 = "cancelled";
            break;
          }
          step3.state = "failed";
          step3.note = err.message;
          error = { code: err.code, message: err.message, step: step3.name, ...err.hint ? { hint: err.hint } : {} };
          logLine(i, `step "${step3.name}" failed: ${err.message}`);
          await flushed();
          await db.query(`update task_steps set state = 'failed', note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, err.message]);
          state2 = "failed";
          break;
        }
        await flushed();
        step3.state = "done";
        step3.progress = 1;
        await db.query(`update task_steps set state = 'done', progress = 1, note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, step3.note ?? null]);
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
      const onEvent2 = (ev) => {
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
        this.off("event", onEvent2);
        this.off("close", onClose);
      };
      this.on("event", onEvent2);
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
async function deleteVolumes(q, paths2) {
  if (paths2.length === 0) return;
  await q.query(`delete from volumes where path = any($1::text[])`, [paths2]);
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
import { posix as posix3 } from "node:path";
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
  const dir = posix3.join(runDir, "vm", vc);
  const paths2 = {
    dir,
    qmp: posix3.join(dir, `${vm}.qmp`),
    serial: posix3.join(dir, `${vm}.serial`),
    pid: posix3.join(dir, `${vm}.pid`)
  };
  if (Buffer.byteLength(paths2.serial) > UNIX_SOCKET_PATH_MAX) {
    throw invalid("runtime directory", `makes socket paths longer than ${UNIX_SOCKET_PATH_MAX} bytes`, runDir);
  }
  return paths2;
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
import { execFile as execFile2 } from "node:child_process";
import { promisify as promisify2 } from "node:util";

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
var run = promisify2(execFile2);
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
      const onNode2 = vms.filter((v) => v.node === r.node).map((v) => ({ vc: v.vc, ip: v.ip, mac: v.mac, tap: tapName(v.ip) }));
      for (const x of opts.extraTaps ?? []) {
        const row = everything.find((v) => v.vc === x.vc && v.name === x.vm);
        if (x.node !== r.node || !row || onNode2.some((v) => v.tap === tapName(row.ip))) continue;
        onNode2.push({ vc: row.vc, ip: row.ip, mac: row.mac, tap: tapName(row.ip) });
      }
      const nft = renderNodeFirewall({ vcs, vms: onNode2 });
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
import { posix as posix4 } from "node:path";
var KVM_CACHE = posix4.join(NODE_LIB, "kvm.json");
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
  await run3.run(`${sh("mkdir", "-p", posix4.dirname(cacheFile))} && cat > ${sh(`${cacheFile}.tmp`)} && ${sh("mv", "-f", `${cacheFile}.tmp`, cacheFile)}`, {
    stdin: JSON.stringify({ usable: verdict.usable, checkedAt: verdict.checkedAt, reason: verdict.reason }, null, 2) + "\n"
  });
  return verdict;
}

// main/vc/vmOps.ts
async function readImageMeta2(env, image) {
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
        const t02 = Date.now();
        const out = await runScript(await env.session.any(), script);
        const allocated = Number(out.trim().split("\n").pop()) || null;
        ctx.log(`${vms.length} disk overlays${vc.swapMb ? " and swap volumes" : ""} in one round trip: ${Date.now() - t02} ms`);
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
  return { vc, meta: await readImageMeta2(env, vc.image), vms: await vmsOf(env.db, name) };
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
        const t02 = Date.now();
        await setVmState(env.db, name, [vm], "migrating");
        await syncNetwork(env, { extraTaps: [{ vc: name, vm, node: to }], log: () => void 0 });
        const result = await migrateToNode(env, vc, meta, vm, from, to, nodeAddress(env, to), ctx.log);
        await setMapping(env.db, name, { [vm]: to });
        await setVmState(env.db, name, [vm], "running");
        await syncNetwork(env, { log: ctx.log });
        const tRoutes = Date.now() - t02;
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
    const meta = await readImageMeta2(this.env, resolved.image);
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
async function ensureVcLab() {
  await ensureLab();
  const cluster = getCluster("lab");
  const session = openCluster(cluster);
  try {
    await deployDatabase(session, { node: "n2" });
    const conn = await session.any();
    if (!await readImageMeta(conn, "tiny").catch(() => void 0)) {
      const built = await buildTiny();
      await publishImage(conn, { meta: built.meta, files: built.files });
    }
  } finally {
    await session.close();
  }
}
function vcService() {
  return VcService.open("lab");
}
var NODES = ["n1", "n2", "n3", "n4"];
var nodeAddr = (n) => `10.77.0.${n.slice(1)}`;
async function onNode(node, command) {
  return labSsh(nodeAddr(node), command);
}
var run2 = promisify3(execFile3);
async function leftovers(vc, subnetPrefix) {
  const found = [];
  for (const n of NODES) {
    const r = await onNode(n, [
      `ls /run/virtualinux/vm/${vc} 2>/dev/null | sed 's/^/run: /'`,
      `ip -o link show type tun 2>/dev/null | grep -o 'vt[0-9a-f]*' | sed 's/^/tap: /'`,
      `ip route show proto 77 | grep -F '${subnetPrefix}' | sed 's/^/route: /'`,
      `nft list ruleset 2>/dev/null | grep -F '${subnetPrefix}' | sed 's/^/nft: /'`,
      `ls /srv/virtualinux/vc/${vc} 2>/dev/null | sed 's/^/file: /'`,
      `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q -- '/vm/''${vc}/' && echo "qemu: $p"; done`,
      "true"
    ].join("; "));
    for (const l of r.stdout.split("\n").filter(Boolean)) found.push(`${n}: ${l}`);
  }
  return found;
}

// .scratch-vc/smoke.ts
var t0 = Date.now();
var step2 = (s2) => console.log(`[${((Date.now() - t0) / 1e3).toFixed(1)}s] ${s2}`);
await ensureVcLab();
step2("lab ready");
var s = vcService();
var onEvent = (e) => {
  if (e.type === "log") console.log("   log:", e.line);
};
try {
  const what = process.argv[2] ?? "all";
  if (what === "all" || what === "create") {
    const t = await s.createVc({ name: "smoke", nodes: 2, vcpus: 1, memMb: 96, diskGb: 1, swapMb: 16, image: "tiny", subnet: "auto" }, { onEvent });
    step2(`create ${t.state} ${JSON.stringify(t.error ?? "")}`);
  }
  if (what === "all" || what === "start") {
    const t = await s.startVc("smoke", "cyclic", "strict", { onEvent });
    step2(`start ${t.state} ${JSON.stringify(t.error ?? "")}`);
    console.log(JSON.stringify(await s.vcStatus("smoke"), null, 1).slice(0, 3e3));
  }
  if (what === "all" || what === "stop") {
    const t = await s.stopVc("smoke", { timeoutS: 20 }, { onEvent });
    step2(`stop ${t.state} ${JSON.stringify(t.error ?? "")}`);
  }
  if (what === "all" || what === "destroy") {
    const t = await s.destroyVc("smoke", { onEvent });
    step2(`destroy ${t.state} ${JSON.stringify(t.error ?? "")}`);
    console.log(await leftovers("smoke", "10.200.0."));
  }
} finally {
  await s.close();
}
