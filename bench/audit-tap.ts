import { closeSync, openSync, readSync } from 'node:fs';
import type { ObservedRequest } from './request-tap.ts';

interface AuditEvent {
  stage: string;
  user: { username: string };
  verb: string;
  userAgent?: string;
  requestReceivedTimestamp: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
}

/**
 * Follows kube-apiserver's audit log (JSON lines, level Metadata) and hands each request of `user` to `observe`
 * once, as the sandbox's request log would: a watch when its response starts, anything else when it
 * completes, stamped with the time the server received it. `catchUp()` reads what was written so far.
 */
export class AuditLogFollower {
  private offset = 0;
  private partial = '';

  constructor(
    private readonly path: string,
    /** Only this user's requests count: the controller's (kube-controller-manager, the scheduler and KWOK are not). */
    private readonly user: string,
    private readonly observe: (request: ObservedRequest) => void,
  ) {}

  catchUp(): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return; // not written yet
    }
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (;;) {
        const read = readSync(fd, chunk, 0, chunk.length, this.offset);
        if (read <= 0) break;
        this.offset += read;
        this.consume(chunk.subarray(0, read).toString('utf8'));
      }
    } finally {
      closeSync(fd);
    }
  }

  private consume(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      const event = JSON.parse(line) as AuditEvent;
      const counted =
        event.verb === 'watch' ? event.stage === 'ResponseStarted' : event.stage === 'ResponseComplete';
      if (!counted || event.user.username !== this.user) continue;
      const ref = event.objectRef;
      this.observe({
        time: new Date(event.requestReceivedTimestamp),
        verb: event.verb,
        resource: ref?.resource
          ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`
          : undefined,
        namespace: ref?.namespace,
        name: ref?.name,
        userAgent: event.userAgent,
      });
    }
  }
}
