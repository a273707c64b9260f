/**
 * Hosts on this machine: one network namespace per host, each with a veth link into a Linux bridge
 * of its own. Addresses come only from 198.18.0.0/15 (RFC 2544's range for network tests), each
 * host has only the route of its /24 (no default route), and the root namespace holds the bridge's
 * own address so the test itself can reach the hosts. Nothing is routed off the machine. Processes
 * share the root's filesystem and pid space, so they reach Docker through its unix socket as before.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Every name this helper makes starts with one of these, so leftovers can be found. */
export const NETNS_PREFIX = 'sbxnet-';
export const BRIDGE_PREFIX = 'sbxbr';
export const VETH_PREFIX = 'sbxv';

export interface NetHost {
  name: string;
  /** Its network namespace: run a process there with `ip netns exec <netns> ...`. */
  netns: string;
  address: string;
  /** Its link's root-side end, in the bridge: down cuts the host off, up heals it. */
  link: string;
}

async function ip(...args: string[]): Promise<string> {
  return (await exec('ip', args)).stdout;
}

/**
 * Lets frames between the bridge's own ports through the FORWARD chain. Docker sets its policy to
 * DROP, and with br_netfilter loaded (net.bridge.bridge-nf-call-iptables=1, as Docker wants it)
 * bridged IPv4 goes through that chain: ARP would work and every TCP connection would hang. The
 * bridge's own nf_call_iptables cannot turn that off while the global switch is on. The rule is the
 * one Docker keeps for docker0, for this bridge only, with a comment naming it for the leftovers check.
 */
function forwardRule(op: '-I' | '-D', bridge: string): string[] {
  return [
    '-w',
    op,
    'FORWARD',
    ...(op === '-I' ? ['1'] : []),
    '-i',
    bridge,
    '-o',
    bridge,
    '-m',
    'comment',
    '--comment',
    bridge,
    '-j',
    'ACCEPT',
  ];
}

/** A /24 of 198.18.0.0/15 that no interface on this machine has yet. */
async function freeSubnet(): Promise<string> {
  const taken = await ip('-4', '-o', 'addr', 'show');
  for (let i = 0; i < 50; i++) {
    const subnet = `198.${randomInt(18, 20)}.${randomInt(0, 256)}`;
    if (!taken.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error('no free /24 in 198.18.0.0/15');
}

export class TestNet {
  readonly hosts = new Map<string, NetHost>();

  private constructor(
    readonly tag: string,
    readonly bridge: string,
    /** The root namespace's address on the bridge: where the test reaches the hosts from. */
    readonly rootAddress: string,
  ) {}

  /**
   * A bridge and one namespace per name, addresses .10, .11, ... in a fresh /24. On any failure
   * what was made so far is removed before the error is thrown.
   */
  static async create(names: string[]): Promise<TestNet> {
    if (names.length > 9) throw new RangeError('at most 9 hosts: interface names must stay under 16 characters');
    const tag = randomBytes(3).toString('hex');
    const subnet = await freeSubnet();
    const net = new TestNet(tag, `${BRIDGE_PREFIX}${tag}`, `${subnet}.1`);
    try {
      await ip('link', 'add', net.bridge, 'type', 'bridge');
      await exec('iptables', forwardRule('-I', net.bridge));
      await ip('addr', 'add', `${net.rootAddress}/24`, 'dev', net.bridge);
      await ip('link', 'set', net.bridge, 'up');
      for (const [i, name] of names.entries()) {
        const host: NetHost = {
          name,
          netns: `${NETNS_PREFIX}${tag}-${name}`,
          address: `${subnet}.${10 + i}`,
          link: `${VETH_PREFIX}${tag}${i}`,
        };
        net.hosts.set(name, host);
        const peer = `sbxp${tag}${i}`;
        await ip('netns', 'add', host.netns);
        await ip('link', 'add', host.link, 'type', 'veth', 'peer', 'name', peer);
        await ip('link', 'set', peer, 'netns', host.netns);
        await ip('-n', host.netns, 'link', 'set', peer, 'name', 'eth0');
        await ip('-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
        await ip('-n', host.netns, 'link', 'set', 'lo', 'up');
        await ip('-n', host.netns, 'link', 'set', 'eth0', 'up');
        await ip('link', 'set', host.link, 'master', net.bridge, 'up');
      }
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  host(name: string): NetHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} in this net`);
    return host;
  }

  /** The host's link goes down: its packets go nowhere, its connections stay open on both ends. */
  async cut(name: string): Promise<void> {
    await ip('link', 'set', this.host(name).link, 'down');
  }

  async heal(name: string): Promise<void> {
    await ip('link', 'set', this.host(name).link, 'up');
  }

  /** The routes a host has: for checking that none leads off the bridge. */
  async routes(name: string): Promise<string[]> {
    return (await ip('-n', this.host(name).netns, 'route', 'show', 'table', 'all'))
      .split('\n')
      .filter((l) => l.trim() && !/^(local|broadcast|multicast|fe80|ff00|::1|anycast)\b/.test(l));
  }

  /**
   * Removes every link, namespace and the bridge; what is already gone is skipped. Links first:
   * deleting a namespace frees its veth only later, asynchronously, and a leftovers check must not
   * race that. Processes still running in a namespace keep it alive without a name: stop them first.
   */
  async destroy(): Promise<void> {
    for (const host of this.hosts.values()) await ip('link', 'del', host.link).catch(() => '');
    for (const host of this.hosts.values()) await ip('netns', 'del', host.netns).catch(() => '');
    await ip('link', 'del', this.bridge).catch(() => '');
    // Every copy, should one have been inserted twice.
    for (let i = 0; i < 5; i++) if (!(await exec('iptables', forwardRule('-D', this.bridge)).catch(() => null))) break;
  }
}

/** Namespaces, bridges and veth links of this helper still on the machine: empty after a clean run. */
export async function netLeftovers(): Promise<string[]> {
  const namespaces = (await ip('netns', 'list').catch(() => ''))
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
  const links = (await ip('-o', 'link', 'show').catch(() => ''))
    .split('\n')
    .map((l) => (l.split(':')[1] ?? '').trim().split('@')[0] ?? '')
    .filter((n) => n.startsWith(BRIDGE_PREFIX) || n.startsWith(VETH_PREFIX) || n.startsWith('sbxp'));
  const rules = (await exec('iptables', ['-w', '-S', 'FORWARD']).catch(() => ({ stdout: '' }))).stdout
    .split('\n')
    .filter((r) => r.includes(BRIDGE_PREFIX));
  return [
    ...namespaces.map((n) => `netns ${n}`),
    ...links.map((l) => `link ${l}`),
    ...rules.map((r) => `iptables ${r}`),
  ];
}
