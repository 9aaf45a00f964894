import { INSTALL_DEFAULTS } from './installConfig.js';

/**
 * The commented config `vlx install --example` prints: 3 disk-less nodes on the running lab
 * as it is (network 10.77.0.0/24, namespace nodes at .1…, the lab host at .254), at free
 * addresses .101-.103 with the MACs `vlx lab power-on` gives machines by default. Pure.
 */
export interface ExampleInput {
  /** The workstation's public key (the cluster's key file + .pub); a placeholder otherwise. */
  sshKey?: string;
  cluster?: string;
}

const PLACEHOLDER_KEY = 'ssh-ed25519 AAAA...replace-with-your-public-key... admin@workstation';

export function renderInstallExample(x: ExampleInput = {}): string {
  const d = INSTALL_DEFAULTS;
  return `# A disk-less cluster of 3 nodes on the lab${x.cluster ? ` (cluster ${x.cluster})` : ''}.
# Every setting has a default; the ones shown are the ones that matter here.
# Check it:   vlx install --config cluster.yaml --check
# Install it: vlx install --config cluster.yaml

# The image the container's original is copied from (vlx image build ${d.baseImage}).
baseImage: ${d.baseImage}
# Shared storage, mounted at the same path on every node.
sharedRoot: ${d.sharedRoot}
# This installation's name on shared storage: cluster/lab/ holds original.qcow2 and node<N>.qcow2.
container: lab
# Optional: the number of nodes must then match the MACs listed below.
nodeCount: 3
sizes:
  rootMb: ${d.rootMb}      # each node's root volume (an overlay of the original)
  swapMb: ${d.swapMb}      # each node's swap volume
  sharedMb: ${d.sharedMb}   # the volume shared by all nodes
# Nodes are named PREFIX1…PREFIXn in the order of the MACs.
hostnamePrefix: dl
network:
  # Node N gets firstIp + N-1: 10.77.0.101-103, free on the lab network.
  boot:
    firstIp: 10.77.0.101
    netmask: 255.255.255.0
  # One network carries boot and storage here; give "storage:" (firstIp, netmask) for a second one.
  # The floating address that serves every node's root (NBD), held by one live node at a time.
  storageIp: 10.77.0.252
  # Modules the initrd loads for the boot interface (the lab's machines have an e1000).
  modules: [e1000]
gateway:
  # The namespace nodes n1 and n2 are the primary and backup gateway; the spare
  # address moves between them (the lab's gateway VIP).
  primary: 10.77.0.1
  backup: 10.77.0.2
  spare: 10.77.0.253
  # No public network in the lab: the gateway NATs out through the lab host.
  # public: { ip: 192.0.2.10, netmask: 255.255.255.0, router: 192.0.2.1 }
  dns: []
  domain: lab.virtualinux
# One entry per node, in order; "hostname:" overrides PREFIXn.
# These are the MACs \`vlx lab power-on dl1\` … dl3 use with --mac.
nodes:
  - mac: 52:54:4d:00:01:01
  - mac: 52:54:4d:00:01:02
  - mac: 52:54:4d:00:01:03
# Who may log in as root (there is no root password).
sshKeys:
  - ${x.sshKey ?? PLACEHOLDER_KEY}
`;
}
