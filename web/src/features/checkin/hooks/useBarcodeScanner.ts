/**
 * Camera scanning where the browser has BarcodeDetector (Chrome on Android, for one): the
 * rear camera feeds a video element and frames are checked a few times a second for QR
 * codes. The same code is reported once per few seconds, so a ticket held up to the
 * camera is not scanned over and over.
 */
import { useCallback, useEffect, useRef, useState, type RefObject } from 'react';

interface DetectedBarcode {
  rawValue: string;
}
interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<DetectedBarcode[]>;
}
type BarcodeDetectorConstructor = new (options: { formats: string[] }) => BarcodeDetectorLike;

const scanEveryMs = 250;
const repeatAfterMs = 3_000;

function detectorClass(): BarcodeDetectorConstructor | undefined {
  const scope = globalThis as unknown as { BarcodeDetector?: BarcodeDetectorConstructor };
  return scope.BarcodeDetector;
}

/** True when this browser can scan with the camera. */
export function canScanWithCamera(): boolean {
  return detectorClass() !== undefined
    && typeof navigator !== 'undefined' && navigator.mediaDevices !== undefined;
}

/** Starts and stops the camera; calls onCode with each newly seen code. */
export function useBarcodeScanner(video: RefObject<HTMLVideoElement | null>,
  onCode: (code: string) => void): { active: boolean; error: string | undefined;
    start: () => Promise<void>; stop: () => void } {
  const [active, setActive] = useState(false);
  const [error, setError] = useState<string>();
  const stream = useRef<MediaStream | null>(null);
  const timer = useRef<ReturnType<typeof setInterval>>(undefined);
  const onCodeRef = useRef(onCode);
  onCodeRef.current = onCode;

  const stop = useCallback(() => {
    clearInterval(timer.current);
    stream.current?.getTracks().forEach((track) => track.stop());
    stream.current = null;
    setActive(false);
  }, []);

  const start = useCallback(async () => {
    const Detector = detectorClass();
    const element = video.current;
    if (Detector === undefined || element === null) return;
    setError(undefined);
    try {
      stream.current = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment' }, audio: false,
      });
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
      return;
    }
    element.srcObject = stream.current;
    await element.play().catch(() => undefined);
    const detector = new Detector({ formats: ['qr_code'] });
    const seen = new Map<string, number>();
    let busy = false;
    timer.current = setInterval(() => {
      if (busy || element.readyState < 2) return;
      busy = true;
      detector.detect(element).then((codes) => {
        const now = Date.now();
        for (const { rawValue } of codes) {
          if ((seen.get(rawValue) ?? 0) > now - repeatAfterMs) continue;
          seen.set(rawValue, now);
          onCodeRef.current(rawValue);
        }
      }, () => undefined).finally(() => {
        busy = false;
      });
    }, scanEveryMs);
    setActive(true);
  }, [video]);

  useEffect(() => stop, [stop]);
  return { active, error, start, stop };
}
