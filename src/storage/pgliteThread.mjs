// The embedded database's thread (storage/pgliteWorker.ts starts it): opens PGlite and runs
// the statements the node's main thread sends, strictly one after another in arrival order,
// answering each with its rows or its error's message and primitive fields (code, detail,
// constraint, …). Plain JavaScript, so it runs the same from source (tests) and from dist
// (the build copies it); the messages' types are pgliteWorker.ts's ThreadCall/ThreadAnswer.
//
// json and jsonb values are sent as their text, with the names of their columns: this
// thread is the embedded database's only one, and parsing them here and then cloning the
// object graphs across the thread boundary took more of its time than the text's copy does
// (the main thread parses them; see pgliteWorker.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

function fieldsOf(error) {
  if (!(error instanceof Error)) return { message: String(error), fields: {} };
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
  }
  return { message: error.message, fields };
}

/** PostgreSQL type ids of json and jsonb. */
const jsonTypes = new Set([114, 3802]);
const asText = (value) => value;
const jsonAsText = { parsers: { 114: asText, 3802: asText } };

/**
 * The names of a result's json and jsonb columns, or undefined when it has none. Rows are
 * keyed by name and the last column of a name wins, so a name counts only when its last
 * column is json.
 */
function jsonColumns(fields) {
  const last = new Map();
  for (const field of fields) last.set(field.name, jsonTypes.has(field.dataTypeID));
  const names = [...last].filter(([, json]) => json).map(([name]) => name);
  return names.length > 0 ? names : undefined;
}

const port = parentPort;
const pglite = await PGlite.create(workerData.dataDir);
let tail = Promise.resolve();

async function answer(call) {
  try {
    if (call.op === 'query') {
      const result = await pglite.query(call.sql, call.params, jsonAsText);
      const json = jsonColumns(result.fields);
      const answer = { id: call.id, ok: true, rows: result.rows,
        affectedRows: result.affectedRows ?? 0 };
      if (json !== undefined) answer.json = json;
      return answer;
    }
    if (call.op === 'exec') await pglite.exec(call.sql);
    else await pglite.close();
    return { id: call.id, ok: true, rows: [], affectedRows: 0 };
  } catch (error) {
    return { id: call.id, ok: false, error: fieldsOf(error) };
  }
}

port.on('message', (call) => {
  tail = tail.then(async () => {
    port.postMessage(await answer(call));
    if (call.op === 'close') port.close();
  });
});
port.postMessage({ id: -1, ready: true });
