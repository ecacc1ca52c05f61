/**
 * Door calls: one check-in per scanned code and the door's tally, with the door staff's
 * check-in token when there is one (else the organizer's admin token); and, for the
 * organizer, the check-in tokens themselves.
 */
import { ApiProblem, unwrap, type Reply } from '../../../lib/api/client';
import { adminApi } from '../../organizer';

export type Checkin = Reply<'/api/v1/events/{eventId}/checkins', 'post'>;
export type DoorTally = Reply<'/api/v1/events/{eventId}/checkins/summary', 'get'>;
export type DoorToken = Reply<'/api/v1/admin/events/{eventId}/checkin-tokens', 'get'>['data'][
  number];
export type CreatedDoorToken = Reply<'/api/v1/admin/events/{eventId}/checkin-tokens', 'post'>;

/** The three answers a door can get (anything else is thrown). */
export type ScanResult =
  | { kind: 'admitted'; code: string; ticket: Checkin }
  | { kind: 'already'; code: string; checkedInAt: string | undefined }
  | { kind: 'unknown'; code: string };

const bearer = (token: string | null) =>
  (token ? { headers: { authorization: `Bearer ${token}` } } : {});

export async function scanCode(eventId: string, code: string, doorToken: string | null):
  Promise<ScanResult> {
  try {
    const ticket = await unwrap(adminApi.POST('/api/v1/events/{eventId}/checkins', {
      params: { path: { eventId } }, body: { code }, ...bearer(doorToken),
    }));
    return { kind: 'admitted', code, ticket };
  } catch (error) {
    if (error instanceof ApiProblem && error.code === 'already_checked_in') {
      const at = error.body.checkedInAt;
      return { kind: 'already', code, checkedInAt: typeof at === 'string' ? at : undefined };
    }
    if (error instanceof ApiProblem && error.code === 'not_found') return { kind: 'unknown', code };
    throw error;
  }
}

export async function doorTally(eventId: string, doorToken: string | null): Promise<DoorTally> {
  return await unwrap(adminApi.GET('/api/v1/events/{eventId}/checkins/summary', {
    params: { path: { eventId } }, ...bearer(doorToken),
  }));
}

export async function listDoorTokens(eventId: string): Promise<DoorToken[]> {
  return (await unwrap(adminApi.GET('/api/v1/admin/events/{eventId}/checkin-tokens', {
    params: { path: { eventId } },
  }))).data;
}

export async function createDoorToken(eventId: string, label: string, validHours: number):
  Promise<CreatedDoorToken> {
  return await unwrap(adminApi.POST('/api/v1/admin/events/{eventId}/checkin-tokens', {
    params: { path: { eventId } }, body: { label, validHours },
  }));
}

export async function revokeDoorToken(eventId: string, tokenId: string): Promise<void> {
  await unwrap(adminApi.DELETE('/api/v1/admin/events/{eventId}/checkin-tokens/{tokenId}', {
    params: { path: { eventId, tokenId } },
  }));
}
