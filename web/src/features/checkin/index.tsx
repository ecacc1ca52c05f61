/**
 * The door check-in page: door staff open it with their link (a check-in token for this
 * event); anyone else needs the organizer's sign-in.
 */
import { useEffect, useState } from 'react';
import { useParams } from 'wouter';
import { AdminGate } from '../organizer';
import { adoptDoorTokenFromUrl, useDoorToken, wipeFragment } from './api/doorSession';
import { CheckinPage as Page } from './components/CheckinPage';

export function CheckinPage() {
  const { eventId = '' } = useParams<{ eventId: string }>();
  const [adopted] = useState(() => adoptDoorTokenFromUrl(eventId));
  useEffect(() => {
    if (adopted) wipeFragment();
  }, [adopted]);
  const doorToken = useDoorToken(eventId);
  return doorToken !== null ? <Page /> : <AdminGate><Page /></AdminGate>;
}
