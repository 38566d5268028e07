// ImageEntry.acpi / BootConfig.acpi: the v86 machine gets v86's ACPI device and a local APIC (the
// guest's CPUID then reports one), and a saved state restores into the machine it was saved from
// whatever the config says, so states of machines with and without ACPI both load.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { BootConfig, ImageEntry } from '../../src/engines/engine.js';
import { NodeAssetLoader, PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { V86Engine, v86StateHasAcpi } from '../../src/engines/v86/engine.js';
import { bootConfigFromImage } from '../../src/worker/image-files.js';

const assets = new NodeAssetLoader();
const manifest = JSON.parse(readFileSync(`${PROJECT_ROOT}/images/manifest.json`, 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'x86-busybox')!;
const engines: V86Engine[] = [];

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.destroy()));
});

async function started(config: BootConfig): Promise<{ engine: V86Engine; text: () => string }> {
  const engine = new V86Engine(config, assets);
  engines.push(engine);
  let text = '';
  engine.onConsole((d) => { text += Buffer.from(d).toString('latin1'); });
  await engine.start();
  return { engine, text: () => text };
}

async function until(text: () => string, what: string, from = 0, ms = 150_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!text().slice(from).includes(what)) {
    if (Date.now() > deadline) throw new Error(`no '${what}' on the console; it ends:\n${text().slice(-800)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('v86 ACPI and local APIC per image', () => {
  it('a machine with acpi (x86-busybox: its kernel ticks on the APIC timer) has a local APIC, and its state restores with it', { timeout: 300_000 }, async () => {
    expect(image.acpi).toBe(true);
    const { engine, text } = await started(await bootConfigFromImage(image, assets));
    await until(text, image.readyMarker);
    let from = text().length;
    engine.sendConsole('grep -c " apic" /proc/cpuinfo | sed s/^/apic-flag-/\n');
    await until(text, 'apic-flag-1', from);
    await engine.pause();
    const state = await engine.saveState();
    expect(v86StateHasAcpi(state)).toBe(true);

    // The config says nothing about ACPI: the state decides.
    const again = await started({ engine: 'v86', memoryMiB: image.memoryMiB, state });
    from = again.text().length;
    again.engine.sendConsole('echo restored-$((40+2))\n');
    await until(again.text, 'restored-42', from, 60_000);
  });

  it('a machine of an image without acpi (the default) saves a state without it', { timeout: 120_000 }, async () => {
    const { acpi: _, ...withoutAcpi } = image;
    const config = await bootConfigFromImage(withoutAcpi, assets);
    expect(config.acpi).toBeUndefined();
    const { engine } = await started(config);
    await engine.pause();
    const state = await engine.saveState();
    expect(v86StateHasAcpi(state)).toBe(false);
  });
});
