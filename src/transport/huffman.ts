/**
 * The Huffman code of HPACK (RFC 7541 §5.2, Appendix B), for the response fields a caller asks
 * for by name (`TransportOptions.responseHeaders`): servers Huffman-code most names and values.
 *
 * The code is canonical (within each code length, codes ascend with the symbol, and each length
 * starts where the shorter ones end, as in DEFLATE, RFC 1951 §3.2.2), so Appendix B is fully
 * given by its code lengths; the codes, and the decoding by length, follow from them.
 */

/** Code length in bits of each symbol 0-255 and of EOS (256), RFC 7541 Appendix B. */
// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;
const LONGEST = 30;

/** The symbols ordered by (code length, symbol): the order canonical codes are given in. */
const SORTED = new Uint16Array(CODE_LENGTHS.length);
/** Per code length: how many codes, the first code, and where its symbols start in SORTED. */
const COUNT = new Int32Array(LONGEST + 1);
const FIRST_CODE = new Int32Array(LONGEST + 1);
const OFFSET = new Int32Array(LONGEST + 1);
/** Each symbol's code (its low CODE_LENGTHS[symbol] bits). */
const CODES = new Uint32Array(CODE_LENGTHS.length);

{
  for (const length of CODE_LENGTHS) COUNT[length] = (COUNT[length] as number) + 1;
  let code = 0;
  let offset = 0;
  for (let length = 1; length <= LONGEST; length++) {
    code = (code + (COUNT[length - 1] as number)) << 1;
    FIRST_CODE[length] = code;
    OFFSET[length] = offset;
    offset += COUNT[length] as number;
  }
  const next = Int32Array.from(FIRST_CODE);
  const placed = Int32Array.from(OFFSET);
  CODE_LENGTHS.forEach((length, symbol) => {
    CODES[symbol] = next[length] as number;
    next[length] = (next[length] as number) + 1;
    SORTED[placed[length] as number] = symbol;
    placed[length] = (placed[length] as number) + 1;
  });
}

/**
 * Decodes the Huffman-coded bytes `block[start, end)` as a latin1 string; null when they are not
 * a valid encoding: EOS decoded, or padding that is longer than 7 bits or not EOS's leading ones
 * (§5.2, both decoding errors).
 */
export function huffmanDecode(block: Uint8Array, start: number, end: number): string | null {
  let text = "";
  let code = 0;
  let length = 0;
  for (let at = start; at < end; at++) {
    const byte = block[at] as number;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      length++;
      // A canonical code of this length, or the prefix of a longer one (never below FIRST_CODE:
      // that would be the prefix of a shorter code, decoded already). The code is complete (its
      // Kraft sum is 1), so the length never passes LONGEST.
      const index = code - (FIRST_CODE[length] as number);
      if (index < (COUNT[length] as number)) {
        const symbol = SORTED[(OFFSET[length] as number) + index] as number;
        if (symbol === EOS) return null;
        text += String.fromCharCode(symbol);
        code = 0;
        length = 0;
      }
    }
  }
  return length <= 7 && code === (1 << length) - 1 ? text : null;
}

/** The Huffman encoding of `text` (latin1), padded with EOS's leading ones (§5.2). */
export function huffmanEncode(text: string): Buffer {
  const out: number[] = [];
  // Pending bits stay below 8 + 30, within a double's exact integers; arithmetic, not 32-bit shifts.
  let bits = 0;
  let count = 0;
  for (const byte of Buffer.from(text, "latin1")) {
    const length = CODE_LENGTHS[byte] as number;
    bits = bits * 2 ** length + (CODES[byte] as number);
    count += length;
    while (count >= 8) {
      count -= 8;
      const high = Math.floor(bits / 2 ** count);
      out.push(high);
      bits -= high * 2 ** count;
    }
  }
  if (count > 0) out.push(bits * 2 ** (8 - count) + (2 ** (8 - count) - 1));
  return Buffer.from(out);
}
