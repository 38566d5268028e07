// How the page switches labs: it navigates to its own address with another `?lab=` (keeping
// `?seed=`), so the address always says which lab is open and a reload opens it again. A lab file
// the user opened or dropped is kept in this tab's sessionStorage under its name. Also the fetch
// behind `?lab=URL` (same origin, or another origin that allows CORS).
import { labParam, MAX_LAB_BYTES, type LabSource } from './lab-source.js';

const FILE_KEY = 'tabvisor.labFile.';

/** The page's address with `?lab=` set to `source` (other parameters such as seed kept). */
export function addressFor(source: LabSource, current: string): string {
  const url = new URL(current);
  url.searchParams.set('lab', labParam(source));
  return url.href;
}

/** Keeps an opened lab file for this tab and returns its source; throws with one line for a bad file. */
export async function keepLabFile(file: File, storage: Storage): Promise<LabSource> {
  if (!/\.json$/i.test(file.name)) throw new Error(`${file.name} is not a lab manifest (a .json file)`);
  if (file.size > MAX_LAB_BYTES) throw new Error(`${file.name} is larger than ${MAX_LAB_BYTES / 1024 / 1024} MiB: not a lab manifest`);
  const fileName = file.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 100) || 'lab.json';
  try {
    storage.setItem(FILE_KEY + fileName, await file.text());
  } catch (error) {
    throw new Error(`${file.name} could not be kept for this tab (${error instanceof Error ? error.message : String(error)})`);
  }
  return { kind: 'file', fileName };
}

/** The text of a lab file kept for this tab. */
export function keptLabFile(fileName: string, storage: Storage): string | undefined {
  return storage.getItem(FILE_KEY + fileName) ?? undefined;
}

/** The text of a lab by URL (relative to the page); throws one line: the status, or why no answer came. */
export async function fetchLabText(url: string, base: string): Promise<string> {
  let target: URL;
  try {
    target = new URL(url, base);
  } catch {
    throw new Error('not a URL');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`${target.protocol} addresses are not fetched (http or https only)`);
  let response: Response;
  try {
    response = await fetch(target, { mode: 'cors', credentials: 'omit', cache: 'no-cache' });
  } catch {
    throw new Error('no answer (the server is not reachable, or it does not allow CORS from this page)');
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  return response.text();
}
