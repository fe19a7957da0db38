/** TCP for the user-space stack (see tcp.ts). */
export { TcpLayer, TCP_DEFAULT_BUFFER, TCP_DEFAULT_LIMBO, TCP_DEFAULT_MAX_CONNECTIONS, TCP_MAX_BUFFER } from './tcp.js';
export { TcpConn, Econrefused, Etimedout, Ehungup, DEFAULT_MSS } from './conn.js';
export { TcpListener, SYNACK_RETRIES } from './listener.js';
export { TCP_STATES } from './state.js';
export type { TcpState } from './state.js';
export { TCP_STAT_NAMES, newTcpStats } from './stats.js';
export type { TcpStatName, TcpStats } from './stats.js';
export type { CongestionName } from './congestion/index.js';
export type { TcpConnectOptions, TcpHandler, TcpInfo, TcpLayerOptions, TcpListenOptions } from './types.js';
