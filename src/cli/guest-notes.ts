// Guest boot messages worth one line of explanation from tabvisor, said once per run.
// Today one: a 32-bit x86 kernel without HIGHMEM (the x86-busybox image's) maps at most ~890 MiB
// and ignores the rest of --mem; Linux says so in its boot log, easy to miss among 100 lines.

const HIGHMEM_WARNING = /Warning only (\d+)MB will be used/;
/** Enough of the previous output to find a message split across two chunks. */
const TAIL_CHARS = 80;

export class GuestNotes {
  private tail = '';
  private highmemSaid = false;

  /** Looks at guest output; returns a note to print, at most once per kind. */
  scan(bytes: Uint8Array): string | undefined {
    if (this.highmemSaid) return undefined;
    const text = this.tail + new TextDecoder('latin1').decode(bytes);
    this.tail = text.slice(-TAIL_CHARS);
    const m = HIGHMEM_WARNING.exec(text);
    if (!m) return undefined;
    this.highmemSaid = true;
    return `note: the guest kernel uses only ${m[1]} MiB of memory: it was built without HIGHMEM, so more --mem is not used`;
  }
}
