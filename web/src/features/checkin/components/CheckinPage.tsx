/**
 * The door: type a ticket code (or scan it with the camera where the browser can) and see
 * at a glance whether to let the person in: first scan, already checked in, or unknown.
 * The last scans stay listed so a queue at the door can be followed.
 */
import { useCallback, useId, useRef, useState, type FormEvent } from 'react';
import { Link, useParams } from 'wouter';
import { limits } from '@server/config/limits';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { copy } from '../../../lib/copy';
import { formatTime } from '../../../lib/format';
import { organizerPaths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { ApiProblem } from '../../../lib/api/client';
import { formatCount } from '../../../lib/format';
import { doorTally, scanCode, type ScanResult } from '../api/checkins';
import { clearDoorToken, useDoorToken } from '../api/doorSession';
import { DoorStaffPanel } from './DoorStaffPanel';
import { canScanWithCamera, useBarcodeScanner } from '../hooks/useBarcodeScanner';
import { codeFromScan } from '../scanned';

const historySize = 10;

function ResultPanel({ result }: { result: ScanResult }) {
  const text = copy.checkin.result;
  if (result.kind === 'admitted') {
    const t = result.ticket;
    const place = t.seatId === null ? text.standing(t.section)
      : text.seat(t.section, t.row ?? '', t.number ?? 0);
    return (
      <div className="scan-result ok" data-result="admitted">
        <p className="scan-headline">{text.admitted}</p>
        <p>{place} · {t.zone}</p>
      </div>
    );
  }
  if (result.kind === 'already') {
    return (
      <div className="scan-result warn" data-result="already">
        <p className="scan-headline">{text.already}</p>
        {result.checkedInAt && <p>{text.firstScanAt(formatTime(result.checkedInAt))}</p>}
      </div>
    );
  }
  return (
    <div className="scan-result error" data-result="unknown">
      <p className="scan-headline">{text.unknown}</p>
      <p>{text.unknownHelp}</p>
    </div>
  );
}

export function CheckinPage() {
  const text = copy.checkin;
  const { eventId = '' } = useParams<{ eventId: string }>();
  const doorToken = useDoorToken(eventId);
  const [code, setCode] = useState('');
  const [history, setHistory] = useState<{ at: number; result: ScanResult }[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const codeId = useId();

  const tally = useAsync(async () => await doorTally(eventId, doorToken),
    [eventId, doorToken, history.length]);
  const check = useCallback(async (raw: string) => {
    const value = codeFromScan(raw);
    if (value === '') return;
    setBusy(true);
    setError(undefined);
    try {
      const result = await scanCode(eventId, value, doorToken);
      setHistory((previous) => [{ at: Date.now(), result }, ...previous].slice(0, historySize));
      setCode('');
    } catch (failure) {
      // A revoked or expired door link: forget it, so the page asks to sign in again.
      if (doorToken !== null && failure instanceof ApiProblem
        && (failure.status === 401 || failure.status === 403)) clearDoorToken(eventId);
      setError(failure);
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  }, [eventId, doorToken]);
  const camera = useBarcodeScanner(video, (scanned) => void check(scanned));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void check(code);
  };
  const latest = history[0];
  return (
    <section className="page organizer checkin">
      <PageTitle title={text.title} />
      {tally.data && (
        <p className="muted" data-testid="door-tally">
          {tally.data.title} · {text.tally(formatCount(tally.data.checkedIn),
            formatCount(tally.data.valid))}
        </p>
      )}
      <form className="row checkin-form" onSubmit={submit}>
        <label htmlFor={codeId} className="grow">
          <span>{text.code}</span>
        </label>
        <input id={codeId} ref={input} value={code} autoFocus autoComplete="off"
          autoCapitalize="off" spellCheck={false} maxLength={limits.ticketCodeLength}
          onChange={(e) => setCode(e.target.value)} className="checkin-code" />
        <button type="submit" disabled={busy || code.trim() === ''}>{text.check}</button>
      </form>
      {canScanWithCamera() && (
        <div className="camera">
          <button type="button" className="secondary"
            onClick={() => (camera.active ? camera.stop() : void camera.start())}>
            {camera.active ? text.stopCamera : text.startCamera}
          </button>
          <video ref={video} muted playsInline hidden={!camera.active}
            aria-label={text.cameraLabel} />
          {camera.error && <p className="notice error" role="alert">{text.cameraError}</p>}
        </div>
      )}
      <ProblemMessage error={error ?? tally.error} />
      <div aria-live="assertive" aria-atomic="true" data-testid="scan-result">
        {latest && <ResultPanel key={latest.at} result={latest.result} />}
      </div>
      {history.length > 1 && (
        <>
          <h2>{text.recent}</h2>
          <ol className="scan-history">
            {history.slice(1).map(({ at, result }) => (
              <li key={at} className={`scan-${result.kind}`}>
                <span>{formatTime(new Date(at))}</span>
                <code>{result.code.slice(0, 8)}…</code>
                <span>{text.short[result.kind]}</span>
              </li>
            ))}
          </ol>
        </>
      )}
      {doorToken === null && (
        <>
          <DoorStaffPanel eventId={eventId} />
          <p><Link href={organizerPaths.dashboard(eventId)}>{text.back}</Link></p>
        </>
      )}
    </section>
  );
}
