// The text chunks of a PNG file, as Montage, AUTOMATIC1111 and ComfyUI write their generation parameters in them.

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Inflates zlib data (a compressed iTXt or zTXt chunk's text). */
async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The text chunks (tEXt, zTXt, iTXt) of a PNG's bytes, keyword to text, in file order.
 *
 * @throws Error when the bytes are no PNG
 */
export async function pngText(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new Error('not a PNG file');
  }
  const view = new DataView(buffer);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8');
  const texts = new Map();
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = latin1.decode(bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    at += 12 + length;
    if (type === 'IEND') {
      break;
    }
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') {
      continue;
    }
    const end = data.indexOf(0);
    const keyword = latin1.decode(data.subarray(0, end));
    if (type === 'tEXt') {
      texts.set(keyword, latin1.decode(data.subarray(end + 1)));
    } else if (type === 'zTXt') {
      texts.set(keyword, latin1.decode(await inflate(data.subarray(end + 2))));
    } else {
      // keyword, compression flag and method, language tag and translated keyword (each ended by 0), then the text
      const compressed = data[end + 1] === 1;
      let start = data.indexOf(0, end + 3) + 1;
      start = data.indexOf(0, start) + 1;
      const text = data.subarray(start);
      texts.set(keyword, utf8.decode(compressed ? await inflate(text) : text));
    }
  }
  return texts;
}
