// Public surface of the device layer (front ends, back ends, board assembly, device tree).

export * from './bus.js';
export * from './guest-memory.js';
export * from './mmio-bus.js';
export * from './uart16550.js';
export * from './plic.js';
export * from './syscon.js';
export * from './fdt.js';
export * from './device-tree.js';
export * from './virt-devices.js';
export * from './backends/console.js';
export * from './backends/disk.js';
export * from './backends/net.js';
export * from './virtio/device.js';
export * from './virtio/virtqueue.js';
export * from './virtio/mmio-transport.js';
export * from './virtio/block.js';
export * from './virtio/console.js';
export * from './virtio/rng.js';
export * from './virtio/net.js';
