/** Helpers shared by the 9net subcommands. */
import * as os from 'node:os';
import { Client } from '../ninep/client.js';
import { DEFAULT_ADDRESS } from '../ninep/transport.js';

export const addressHelp = `9P server address: tcp!host!port or unix!/path (default ${DEFAULT_ADDRESS})`;

export function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'none';
  }
}

export interface ClientFlags {
  address?: string;
  user?: string;
  aname?: string;
}

export function connect(flags: ClientFlags): Promise<Client> {
  return Client.dial(flags.address ?? DEFAULT_ADDRESS, { uname: flags.user ?? currentUser(), aname: flags.aname ?? '' });
}

/** connect(), or exit with its error in one line. */
export async function connectOrDie(flags: ClientFlags): Promise<Client> {
  try {
    return await connect(flags);
  } catch (e) {
    die((e as Error).message);
  }
}

/** Print a one-line error and exit non-zero. */
export function die(msg: string, code = 1): never {
  console.error(`9net: ${msg}`);
  process.exit(code);
}
