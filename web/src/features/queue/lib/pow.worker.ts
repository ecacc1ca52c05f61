/**
 * Solves the waiting room's proof-of-work challenge (ALTCHA, SHA-256) off the main thread,
 * so the page stays responsive while the browser hashes.
 */
import { solveChallenge } from 'altcha-lib';

interface Work {
  challenge: string;
  salt: string;
  algorithm: string;
  max: number;
}

self.onmessage = async (message: MessageEvent<Work>) => {
  const { challenge, salt, algorithm, max } = message.data;
  const solution = await solveChallenge(challenge, salt, algorithm, max).promise;
  self.postMessage(solution === null ? null : { number: solution.number });
};
