/** `9net serve`: serve /net over 9P, on the host's sockets or on our own stack. */
import type { Command } from 'commander';
import { accessSync, constants, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Admission, parseUsersMap, passwdUid } from '../ninep/admission.js';
import type { NetBackend } from '../backend/backend.js';
import { hostNet } from '../backend/host/backend.js';
import { StackNet } from '../backend/stack/backend.js';
import { RealClock } from '../lib/clock.js';
import type { Clock } from '../lib/clock.js';
import { SimClock } from '../lib/simclock.js';
import { CryptoRng } from '../lib/rng.js';
import { TapLink } from '../link/tap.js';
import { PcapLink } from '../link/pcap.js';
import { Topology } from '../topo/topology.js';
import { overNet } from '../backend/over/backend.js';
import { NinepError } from '../ninep/error.js';
import type { Node } from '../ninep/node.js';
import { DEFAULT_ADDRESS, formatAddress, parseAddress } from '../ninep/transport.js';
import { DEFAULT_ANAMES } from '../backend/backend.js';
import { currentUser, die, intArg, message } from './common.js';
import { LoggingServer } from './serverlog.js';

interface ServeFlags {
  listen?: string[];
  eve?: string;
  trace?: boolean;
  tap?: string;
  pcap?: string;
  etherOver?: string;
  etherPath?: string;
  topology?: string;
  over?: string;
  ip?: string;
  gw?: string;
  mtu?: number;
  dns?: string[];
  users?: string;
  allowRemote?: boolean;
  clock: string;
}

/** `--clock`: the real clock, or simulated time steered through /net/clock (frozen at 0 until told). */
function chooseClock(kind: string): { clock: Clock; clockControl?: SimClock } {
  if (kind === 'real') return { clock: new RealClock() };
  if (kind !== 'manual') die(`bad --clock ${kind}: want real or manual`);
  const sim = new SimClock();
  return { clock: sim, clockControl: sim };
}

/** A listen host that only this machine reaches. */
function isLoopbackHost(h: string): boolean {
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** The --users file's grants (uid → names), or die saying what is wrong. */
function readUsers(file: string | undefined): Map<number, string[]> {
  if (!file) return new Map();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    die(`--users ${file}: ${message(e)}`);
  }
  const m = parseUsersMap(text, (n) => passwdUid(n));
  if (typeof m === 'string') die(`--users ${file}: ${m}`);
  return m;
}

/** ADDR/PREFIX, e.g. 10.0.0.2/24. */
function parseCidr(s: string): { addr: string; prefix: number } {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) > 32) die(`bad --ip ${s}: want ADDR/PREFIX, e.g. 10.0.0.2/24`);
  return { addr: m[1]!, prefix: Number(m[2]) };
}

/** Where 9net is installed: `npm run build:native` is run there. */
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A link that cannot open, in one line; a missing addon says where to build
 * it (npm 11 runs a global package's install script only when allowed).
 */
function linkError(e: unknown): string {
  const m = (e as Error).message;
  return (e as { code?: string }).code === 'ERR_9NET_NATIVE' ? `${m} (in ${PACKAGE_DIR})` : m;
}

/** Our own stack on a TAP device or on a lower server's ether, configured as ipconfig would. */
async function stackBackend(flags: ServeFlags, eve: string): Promise<NetBackend> {
  let net: StackNet;
  try {
    net = new StackNet({ eve, ...chooseClock(flags.clock), rng: new CryptoRng(), log: (l) => console.error(`9net: ${l}`), ...(flags.dns ? { dnsServers: flags.dns } : {}) });
  } catch (e) {
    die(`--dns: ${(e as Error).message}`);
  }
  let port;
  let where: string;
  if (flags.tap) {
    let link: TapLink;
    try {
      link = TapLink.open({ name: flags.tap, ...(flags.mtu ? { mtu: flags.mtu } : {}), onError: (e) => console.error(`9net: ${flags.tap}: ${e.message}`) });
    } catch (e) {
      die(linkError(e));
    }
    port = net.addEther(link);
    where = link.name;
  } else if (flags.pcap) {
    let link: PcapLink;
    try {
      link = PcapLink.open({ iface: flags.pcap, onError: (e) => console.error(`9net: ${flags.pcap}: ${e.message}`) });
    } catch (e) {
      die(linkError(e));
    }
    for (const w of link.warnings) console.error(`9net: ${flags.pcap}: ${w}`);
    port = net.addEther(link);
    where = `${link.name} (libpcap)`;
  } else {
    try {
      port = await net.etherOver(flags.etherOver!, flags.etherPath ?? '/ether0');
    } catch (e) {
      die(`--ether-over ${flags.etherOver}: ${(e as Error).message}`);
    }
    where = `${flags.etherOver}${flags.etherPath ?? '/ether0'}`;
  }
  if (flags.ip === 'dhcp') {
    if (flags.gw) die('--gw needs a static --ip');
    net.configureDhcp(port);
  } else if (flags.ip) {
    const { addr, prefix } = parseCidr(flags.ip);
    try {
      net.configure(port, addr, prefix, flags.gw);
    } catch (e) {
      die((e as Error).message);
    }
  } else if (flags.gw) die('--gw needs --ip');
  net.what = `our stack on ${where}${flags.ip === 'dhcp' ? ' configured by DHCP' : flags.ip ? ` as ${flags.ip}` : ''}`;
  return net;
}

/** Several stacks, hubs and pairs from a topology file; each stack's /net by attach name. */
async function topologyBackend(file: string, eve: string, clock: string): Promise<NetBackend> {
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    die(`--topology ${file}: ${message(e)}`);
  }
  let topo: Topology;
  try {
    topo = await Topology.fromFile(file, { eve, ...chooseClock(clock), rng: new CryptoRng(), log: (l) => console.error(`9net: ${l}`) });
  } catch (e) {
    die((e as Error).message);
  }
  return topo;
}

/** The attach names a backend serves, for the error an unknown one gets. */
function anameList(backend: NetBackend): string {
  const quoted = (names: readonly string[]): string => names.map((n) => (n === '' ? "''" : n)).join(', ');
  if (backend instanceof Topology) {
    const d = backend.defaultStack;
    return `the stacks ${quoted(backend.stackNames())}${d ? ` ('' is ${d})` : ''} and topo (the control tree)`;
  }
  return `one /net, under ${quoted(DEFAULT_ANAMES)}`;
}

/** The tree for an attach, or the error naming the attach names that exist. */
function rootOrExplain(backend: NetBackend): (aname: string, uname: string) => Node {
  return (aname, uname) => {
    const root = backend.root(aname, uname);
    if (root) return root;
    throw new NinepError(`unknown attach name ${aname}: this server has ${anameList(backend)}`);
  };
}

export function addServe(program: Command): void {
  program
    .command('serve')
    .description('serve /net over 9P (default backend: the host\'s sockets)')
    .option('-l, --listen <addr>', `where to listen: tcp!host!port, unix!/path, or - for stdin/stdout (repeatable; default ${DEFAULT_ADDRESS})`, (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--eve <user>', 'host owner: passes every conversation permission check (default: the user running 9net)')
    .option('--tap <name>', 'serve our own stack on this TAP device (created if missing, which needs CAP_NET_ADMIN; or attach to one made with ip tuntap add ... user $USER)')
    .option('--pcap <iface>', 'serve our own stack on an existing interface through libpcap (needs CAP_NET_RAW)')
    .option('--ether-over <addr>', 'serve our own stack on another 9P server\'s ether directory (link stacking), e.g. tcp!127.0.0.1!5640')
    .option('--ether-path <path>', 'with --ether-over: the ether directory on that server (default /ether0)')
    .option('--over <addr>', 'transport stacking: serve /net/tcp, /net/udp and /net/cs carried by the /net of another 9P server at ADDR (9net, or a Plan 9 machine\'s exported /net)')
    .option('--topology <file>', 'serve several stacks, hubs and pairs from a JSON topology file; each stack\'s /net by attach name, the control tree as aname topo')
    .option('--ip <addr/prefix>', 'with --tap, --pcap or --ether-over: our address, e.g. 10.0.0.2/24, or dhcp (else configure it through /net/ipifc)')
    .option('--gw <addr>', 'with --ip: the default gateway')
    .option('--dns <addr>', 'with our stack: a DNS server for /net/dns and cs, asked before those DHCP or /net/ndb give (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--mtu <n>', 'with --tap: the IP MTU of the link (default: the device\'s)', intArg(68, 65535))
    .option('--clock <kind>', 'with our stack or --topology: real (default), or manual: simulated time, frozen until /net/clock says freeze, advance D, rate R or real', 'real')
    .option('--users <file>', 'more user names a local uid may attach as: lines of "UID-or-USER NAME..."')
    .option('--allow-remote', 'accept clients whose uid cannot be known (other machines): they may attach as anyone (no authentication)')
    .option('--trace', 'print every 9P message on stderr, and the text of ctl writes')
    .action(async (flags: ServeFlags) => {
      const eve = flags.eve ?? currentUser();
      const chosen = [flags.tap, flags.pcap, flags.etherOver, flags.topology, flags.over].filter(Boolean).length;
      if (chosen > 1) die('choose one of --tap, --pcap, --ether-over, --over and --topology');
      const stack = Boolean(flags.tap || flags.pcap || flags.etherOver);
      if (!stack && (flags.ip || flags.gw || flags.mtu || flags.dns)) die('--ip, --gw, --mtu and --dns need --tap, --pcap or --ether-over');
      if (!stack && !flags.topology && flags.clock !== 'real') die('--clock needs our stack: --tap, --pcap, --ether-over or --topology');
      let backend: NetBackend;
      if (flags.topology) backend = await topologyBackend(flags.topology, eve, flags.clock);
      else if (flags.over) {
        try {
          backend = await overNet({ eve, lower: flags.over });
        } catch (e) {
          die(`--over ${flags.over}: ${(e as Error).message}`);
        }
      }
      else if (stack) backend = await stackBackend(flags, eve);
      else backend = hostNet({ eve });
      const addrs = (flags.listen ?? [DEFAULT_ADDRESS]).map(parseAddress);
      const remote = addrs.filter((a) => a.kind === 'tcp' && !isLoopbackHost(a.host));
      if (remote.length > 0 && !flags.allowRemote) {
        die(`listening on ${remote.map(formatAddress).join(', ')} reaches other machines, whose users 9net cannot authenticate: add --allow-remote to accept them`);
      }
      const admission = new Admission({ ownerUid: process.getuid?.() ?? 0, eve, grants: readUsers(flags.users), allowRemote: flags.allowRemote ?? false });
      if (flags.allowRemote) console.error('9net: --allow-remote: clients from other machines are not authenticated and may attach as any user, the host owner included');
      const server = new LoggingServer({
        root: rootOrExplain(backend),
        admit: (peer, uname) => admission.admit(peer, uname),
        trace: flags.trace ?? false,
        log: (l) => console.error(`9net: ${l}`),
      });
      for (const a of addrs) {
        if (a.kind === 'stdio') {
          const c = server.serve(process.stdin, process.stdout, 'stdio');
          c.onClose(() => process.exit(0));
        } else {
          const srv = await server.listen(a);
          // Report the port actually bound (port 0 asks the OS for one).
          const bound = a.kind === 'tcp' ? { ...a, port: (srv.address() as AddressInfo).port } : a;
          console.error(`9net: serving /net (${backend.what}) on ${formatAddress(bound)}`);
        }
      }
      const stop = (): void => {
        void server.close().then(() => backend.close()).then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
