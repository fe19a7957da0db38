/**
 * The virtio-net header a TAP prepends to every frame with IFF_VNET_HDR
 * (10 bytes, or 12 with num_buffers). Fields are little-endian here (the
 * kernel uses host order for tun without IFF_VNET_LE; x86/arm64 are LE).
 * With offloads off (TUNSETOFFLOAD 0) the kernel never sets NEEDS_CSUM or a
 * GSO type; receivers must still refuse frames that carry them.
 */

export const VNET_HDR_LEN = 10;
export const VNET_HDR_MRG_LEN = 12;

/** flags: checksum from csumStart, stored at csumStart + csumOffset, is unfinished. */
export const VNET_F_NEEDS_CSUM = 1;
/** flags: the kernel verified the checksum. */
export const VNET_F_DATA_VALID = 2;
export const VNET_GSO_NONE = 0;

export interface VnetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** Reads the header at the start of `buf`; null if it is too short. */
export function parseVnetHdr(buf: Uint8Array): VnetHdr | null {
  if (buf.length < VNET_HDR_LEN) return null;
  const le16 = (o: number): number => buf[o]! | (buf[o + 1]! << 8);
  return { flags: buf[0]!, gsoType: buf[1]!, hdrLen: le16(2), gsoSize: le16(4), csumStart: le16(6), csumOffset: le16(8) };
}

/** True when the frame after the header is complete: no GSO, no checksum to finish. */
export function vnetFrameComplete(buf: Uint8Array): boolean {
  return buf.length >= VNET_HDR_LEN && (buf[0]! & VNET_F_NEEDS_CSUM) === 0 && buf[1] === VNET_GSO_NONE;
}
