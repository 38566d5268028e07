// Where the page's lab comes from: a built-in lab (`?lab=NAME`, labs/NAME.json bundled with the
// app), a URL (`?lab=https://...` or `?lab=./my-lab.json`: same origin, or another one that allows
// CORS) or a file the user opened or dropped on the page (`?lab=file:NAME`, its text kept in the
// tab's sessionStorage so that a reload opens it again). Reading one gives the manifest's JSON or
// an Error with one line that says what went wrong.

export type LabSource =
  | { kind: 'builtin'; name: string }
  | { kind: 'url'; url: string }
  | { kind: 'file'; fileName: string };

/** The lab a page without `?lab=` opens (labs/default.json). */
export const DEFAULT_LAB = 'default';
const LAB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A lab file the page reads at most (a manifest is a few KiB; checks are at most 64 KiB each). */
export const MAX_LAB_BYTES = 4 * 1024 * 1024;

/** What `?lab=VALUE` names. A bare name is built in; anything with a '/', ':' or '.json' is a URL. */
export function labSourceFromParam(value: string | null): LabSource {
  const v = (value ?? '').trim();
  if (v === '') return { kind: 'builtin', name: DEFAULT_LAB };
  if (v.startsWith('file:')) return { kind: 'file', fileName: v.slice(5) };
  if (/[/:]/.test(v) || /\.json$/i.test(v)) return { kind: 'url', url: v };
  return { kind: 'builtin', name: v };
}

/** The `?lab=` value for a source (the inverse of labSourceFromParam). */
export function labParam(source: LabSource): string {
  return source.kind === 'builtin' ? source.name : source.kind === 'url' ? source.url : `file:${source.fileName}`;
}

/** How the page names a source in messages. */
export function describeLabSource(source: LabSource): string {
  return source.kind === 'builtin' ? `lab ${source.name}` : source.kind === 'url' ? source.url : `the file ${source.fileName}`;
}

export interface LabReaders {
  /** A bundled lab's JSON by repo path ('labs/NAME.json'); throws when the build has none. */
  loadBuiltin(path: string): Promise<unknown>;
  /** The text at a URL (resolved against the page); throws with the HTTP status or network error. */
  fetchText?(url: string): Promise<string>;
  /** The text of a lab file the user opened in this tab, or undefined when it is gone. */
  fileText?(fileName: string): string | undefined;
  /** The built-in labs, named in every error. */
  labNames?: readonly string[];
}

/** The lab's JSON; throws an Error with one line (ending with the built-in labs) otherwise. */
export async function readLabJson(source: LabSource, readers: LabReaders): Promise<unknown> {
  const list = labList(readers.labNames);
  switch (source.kind) {
    case 'builtin': {
      if (!LAB_NAME.test(source.name)) throw new Error(`"${source.name}" is not a lab name (letters, digits, '.', '_' or '-')${list}`);
      try {
        return await readers.loadBuiltin(`labs/${source.name}.json`);
      } catch (error) {
        throw new Error(`no lab named "${source.name}" (labs/${source.name}.json: ${messageOf(error)})${list}`);
      }
    }
    case 'url': {
      if (!readers.fetchText) throw new Error(`this page cannot fetch labs by URL${list}`);
      let text: string;
      try {
        text = await readers.fetchText(source.url);
      } catch (error) {
        throw new Error(`could not fetch the lab ${source.url}: ${messageOf(error)}${list}`);
      }
      return parseJson(text, source.url, list);
    }
    case 'file': {
      const text = readers.fileText?.(source.fileName);
      if (text === undefined) throw new Error(`the lab file ${source.fileName} is not open in this tab any more: open it again${list}`);
      return parseJson(text, `the lab file ${source.fileName}`, list);
    }
  }
}

function parseJson(text: string, what: string, list: string): unknown {
  if (text.length > MAX_LAB_BYTES) throw new Error(`${what} is larger than ${MAX_LAB_BYTES / 1024 / 1024} MiB: not a lab manifest${list}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${what} is not JSON (${messageOf(error).split('\n')[0]})${list}`);
  }
}

/** '; labs here: a, b' for a message about a lab that cannot be opened. */
export function labList(names: readonly string[] | undefined): string {
  return names?.length ? `; labs here: ${names.join(', ')}` : '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
