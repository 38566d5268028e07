// Files in and out of a VM from the page (docs/UI.md, "Files in and out"): what a drop or the
// file picker hands over goes to the hypervisor (Hypervisor.uploadFiles: the VM's exchange folder,
// then /root/upload in the guest), and a guest path comes back as a browser download (a folder
// as NAME.tar). Limits are checked on the File objects before a byte is read, so a huge drop
// costs nothing. Components ask through a 'vm-files' event whose handler fills in `result`.

import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { downloadProblem, uploadProblem } from '../hypervisor/guest-files.js';

export type VmFilesRequest =
  | { kind: 'upload'; vmId: string; files: File[] }
  | { kind: 'download'; vmId: string; path: string };

/** The detail of a 'vm-files' event: the handler sets `result` (what to tell the user). */
export type VmFilesDetail = VmFilesRequest & { result?: Promise<string> };

export class FileTransfers {
  constructor(private readonly hypervisor: () => Hypervisor | undefined) {}

  /** Answers a 'vm-files' event (synchronously sets its result promise). */
  handle(detail: VmFilesDetail): void {
    detail.result = detail.kind === 'upload' ? this.upload(detail.vmId, detail.files) : this.download(detail.vmId, detail.path);
  }

  async upload(vmId: string, files: File[]): Promise<string> {
    const problem = uploadProblem(files.map((f) => ({ name: f.name, size: f.size })));
    if (problem) throw new Error(problem);
    const hv = this.need();
    const loaded = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    const report = await hv.uploadFiles(vmId, loaded);
    const what = report.names.length === 1 ? report.names[0] : `${report.names.length} files`;
    return `Uploaded ${what} (${sizeText(report.bytes)}) to ${report.dir}`;
  }

  async download(vmId: string, path: string): Promise<string> {
    const trimmed = path.trim();
    const problem = downloadProblem(trimmed);
    if (problem) throw new Error(problem);
    const file = await this.need().downloadFromGuest(vmId, trimmed);
    offerDownload(file.fileName, file.bytes, file.kind === 'tar' ? 'application/x-tar' : 'application/octet-stream');
    return `Downloaded ${trimmed} as ${file.fileName} (${sizeText(file.bytes.length)})`;
  }

  private need(): Hypervisor {
    const hv = this.hypervisor();
    if (!hv) throw new Error('the lab is not loaded yet');
    return hv;
  }
}

/** Hands bytes to the browser as a download named `fileName`. */
export function offerDownload(fileName: string, bytes: Uint8Array, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const link = Object.assign(document.createElement('a'), { href: url, download: fileName });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
