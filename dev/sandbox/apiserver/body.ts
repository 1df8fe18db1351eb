import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.ts';

/** The API server's request body limit (kube-apiserver's default). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Reads a request body up to `limit` bytes; past that, stops reading and fails with 413 (the connection is then closed). */
export function readBytes(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        reject(
          new ApiError(
            413,
            'RequestEntityTooLarge',
            `Request entity too large: limit is ${limit}`,
            undefined,
            { Connection: 'close' },
          ),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}
