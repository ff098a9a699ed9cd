/**
 * CRC-32/IEEE 802.3 (reflected polynomial 0xEDB88320, initial value and final
 * XOR 0xFFFFFFFF): the frame check of docs/protocol.md and the model CRC in INFO.
 * Same calling convention as the firmware's proto_crc32: pass crc = 0 to start,
 * feed further chunks with the returned value. CRC-32("123456789") = 0xCBF43926.
 */

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** @returns the CRC as an unsigned 32-bit number */
export function crc32(data: Uint8Array, crc = 0, start = 0, end = data.length): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** 8 lowercase hex digits, as reports print a CRC. */
export function crc32Hex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, '0');
}
