/** Door check-in: one call per scanned code, with the door's token or the admin token. */
import { ApiProblem, unwrap, type Reply } from '../../../lib/api/client';
import { adminApi } from '../../organizer';

export type Checkin = Reply<'/api/v1/events/{eventId}/checkins', 'post'>;

/** The three answers a door can get (anything else is thrown). */
export type ScanResult =
  | { kind: 'admitted'; code: string; ticket: Checkin }
  | { kind: 'already'; code: string; checkedInAt: string | undefined }
  | { kind: 'unknown'; code: string };

export async function scanCode(eventId: string, code: string, doorToken?: string):
  Promise<ScanResult> {
  try {
    const ticket = await unwrap(adminApi.POST('/api/v1/events/{eventId}/checkins', {
      params: { path: { eventId } }, body: { code },
      ...(doorToken ? { headers: { authorization: `Bearer ${doorToken}` } } : {}),
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
