/**
 * The server secret (signs tokens and passes) and the admin token. Taken from the
 * environment when set; otherwise generated once and kept in `<dataDir>/secrets.json`
 * (mode 0600) so restarts keep sessions valid. A cluster must set both variables.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomToken } from '../core/ids.js';
import type { Config } from './index.js';

export interface Secrets {
  secret: string;
  adminToken: string;
  /** True when the admin token came from the data dir rather than the environment. */
  adminTokenGenerated: boolean;
}

interface StoredSecrets {
  secret?: string;
  adminToken?: string;
}

function readStored(file: string): StoredSecrets {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredSecrets;
  } catch {
    return {};
  }
}

/** Resolves the secrets, generating and persisting any that are missing. */
export function resolveSecrets(config: Config): Secrets {
  const file = path.join(config.dataDir, 'secrets.json');
  const stored = readStored(file);
  const secret = config.secret ?? stored.secret ?? randomToken(32);
  const adminToken = config.adminToken ?? stored.adminToken ?? randomToken(24);
  if (stored.secret !== secret && config.secret === undefined ||
      stored.adminToken !== adminToken && config.adminToken === undefined) {
    mkdirSync(config.dataDir, { recursive: true });
    const next: StoredSecrets = { ...stored };
    if (config.secret === undefined) next.secret = secret;
    if (config.adminToken === undefined) next.adminToken = adminToken;
    writeFileSync(file, JSON.stringify(next, null, 2), { mode: 0o600 });
  }
  return { secret, adminToken, adminTokenGenerated: config.adminToken === undefined };
}
