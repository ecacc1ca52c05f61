/**
 * The waiting room: join (with a proof of work when the event asks), leave, the one-step
 * move to the waitlist, and challenges.
 */
import { api, ApiProblem, unwrap, type Reply } from '../../../lib/api/client';

export type QueueView = Reply<'/api/v1/events/{eventId}/queue/me', 'get'>;
type Challenge = Reply<'/api/v1/events/{eventId}/queue/challenge', 'get'>;
export type HandOver = Reply<'/api/v1/events/{eventId}/queue/me/waitlist', 'post'>;

/** Leaves the line for good (a live pass is given back). */
export async function leaveQueue(eventId: string): Promise<QueueView> {
  return await unwrap(api.DELETE('/api/v1/events/{eventId}/queue/me', {
    params: { path: { eventId } }, body: {},
  }));
}

/**
 * Moves from the line to the waitlist in one step; the server keeps the fan's line order
 * among everyone who moves.
 */
export async function moveToWaitlist(
  eventId: string, zone: string | undefined, quantity: number,
): Promise<HandOver> {
  return await unwrap(api.POST('/api/v1/events/{eventId}/queue/me/waitlist', {
    params: { path: { eventId } },
    body: zone === undefined ? { quantity } : { zone, quantity },
  }));
}

async function join(eventId: string, proofOfWork?: string): Promise<QueueView> {
  return await unwrap(api.POST('/api/v1/events/{eventId}/queue', {
    params: { path: { eventId } },
    body: proofOfWork === undefined ? {} : { proofOfWork },
  }));
}

/** Brute-forces the challenge in a Web Worker; resolves to the base64 payload to send. */
async function solve(challenge: Challenge): Promise<string> {
  const worker = new Worker(new URL('../lib/pow.worker.ts', import.meta.url), { type: 'module' });
  try {
    const solution = await new Promise<{ number: number } | null>((resolve, reject) => {
      worker.onmessage = (message: MessageEvent<{ number: number } | null>) =>
        resolve(message.data);
      worker.onerror = () => reject(new Error('proof-of-work worker failed'));
      worker.postMessage({
        challenge: challenge.challenge, salt: challenge.salt, algorithm: challenge.algorithm,
        max: challenge.maxnumber ?? 1_000_000,
      });
    });
    if (solution === null) throw new ApiProblem(403, { code: 'proof_of_work_required' });
    return btoa(JSON.stringify({
      algorithm: challenge.algorithm, challenge: challenge.challenge, number: solution.number,
      salt: challenge.salt, signature: challenge.signature,
    }));
  } finally {
    worker.terminate();
  }
}

/**
 * Joins the line. When the event asks for a proof of work, fetches a challenge, solves it
 * (telling the caller, so the page can say so) and joins with the solution.
 */
export async function joinQueue(eventId: string, onSolving: () => void): Promise<QueueView> {
  try {
    return await join(eventId);
  } catch (error) {
    if (!(error instanceof ApiProblem) || error.code !== 'proof_of_work_required') throw error;
    onSolving();
    const challenge = await unwrap(api.GET('/api/v1/events/{eventId}/queue/challenge', {
      params: { path: { eventId } },
    }));
    return await join(eventId, await solve(challenge));
  }
}
