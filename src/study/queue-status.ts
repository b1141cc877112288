import { KEY_COORDINATOR, maskSecret, openQueue, parseJobId, parseQueueUrl } from './queue.js';

const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
type State = (typeof STATES)[number];

export interface QueueStatus {
  /** The queue URL, masked. */
  readonly queue: string;
  readonly redisVersion: string;
  /** Jobs by state over the whole queue (completed and failed: finished, not yet collected by their coordinator). */
  readonly counts: Readonly<Record<State, number>>;
  /** The same per study name. */
  readonly studies: readonly ({ readonly study: string } & Readonly<Record<State, number>>)[];
  /** Workers connected now (undefined when Redis refuses CLIENT LIST). */
  readonly workers: readonly { readonly name: string; readonly addr: string; readonly ageS: number; readonly idleS: number }[] | undefined;
  readonly coordinators: readonly {
    readonly study: string;
    readonly host: string;
    readonly pid: number;
    readonly db: string;
    readonly since: string;
  }[];
}

/** What is on a study queue: job counts in all and per study, the workers connected, the coordinators' claims. */
export async function queueStatus(url: string): Promise<QueueStatus> {
  const q = parseQueueUrl(url);
  const { queue } = await openQueue(q);
  try {
    const client = await queue.client;
    const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<State, number>;
    const studies = new Map<string, Record<State, number>>();
    for (const state of STATES) {
      const types = state === 'waiting' ? (['waiting', 'prioritized', 'paused'] as const) : ([state] as const);
      for (const id of await queue.getRanges([...types], 0, -1)) {
        counts[state]++;
        const study = parseJobId(id)?.study ?? '(other jobs)';
        let per = studies.get(study);
        if (per === undefined) studies.set(study, (per = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<State, number>));
        per[state]++;
      }
    }
    let workers: QueueStatus['workers'];
    try {
      workers = (await queue.getWorkers()).map((w) => ({
        name: (w['rawname'] ?? '').replace(/^.*?:w:/, ''),
        addr: w['addr'] ?? '?',
        ageS: Number(w['age'] ?? NaN),
        idleS: Number(w['idle'] ?? NaN),
      }));
    } catch {
      workers = undefined;
    }
    const coordinators: QueueStatus['coordinators'][number][] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, { MATCH: `${KEY_COORDINATOR}*`, COUNT: 100 });
      cursor = next;
      for (const key of keys) {
        const text = await client.get(key);
        try {
          const c = JSON.parse(text ?? '{}') as { host?: string; pid?: number; db?: string; since?: string };
          coordinators.push({
            study: key.slice(KEY_COORDINATOR.length),
            host: c.host ?? '?',
            pid: c.pid ?? 0,
            db: c.db ?? '?',
            since: c.since ?? '?',
          });
        } catch {
          // Not a claim this gpmate wrote: left out.
        }
      }
    } while (cursor !== '0');
    return {
      queue: q.masked,
      redisVersion: queue.redisVersion,
      counts,
      studies: [...studies].map(([study, c]) => ({ study, ...c })).sort((a, b) => (a.study < b.study ? -1 : 1)),
      workers,
      coordinators: coordinators.sort((a, b) => (a.study < b.study ? -1 : 1)),
    };
  } catch (e) {
    if (e instanceof Error) e.message = maskSecret(e.message, q);
    throw e;
  } finally {
    await queue.close().catch(() => undefined);
  }
}
