import { createServer } from 'node:net';

/** A port asked for on the command line is already in use. */
export class PortTakenError extends Error {
  override readonly name = 'PortTakenError';
  readonly code = 'CLUSTER_PORT_TAKEN';
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(
      `port ${port} on ${host} is already in use: stop what listens there, or pass another port (0 picks a free one)`,
    );
  }
}

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** A port that was free a moment ago (the component binding it reports a clash itself). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return listenOnce(host, 0);
}

/** `port` itself when it is free, a free one for 0, PortTakenError otherwise. */
export async function claimPort(host: string, port: number): Promise<number> {
  try {
    return await listenOnce(host, port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortTakenError(host, port);
    throw error;
  }
}
