// The hypervisor layer: browser-safe exports. Node worker hosts are in ./node-hosts.js,
// browser worker hosts in ./browser-hosts.js.
export { Hypervisor } from './hypervisor.js';
export type {
  HypervisorOptions, CreateVmOptions, MigrationReport, ImportSnapshotOptions, VmSummary, VmStatsReport, ConsoleAttachment, HypervisorEvents,
} from './hypervisor.js';
export { HypervisorError, type HypervisorErrorCode } from './errors.js';
export { TypedEmitter } from './events.js';
export { VmStateMachine, VM_RULES, VM_STATES, VM_ACTIONS, VM_SIGNALS } from './state-machine.js';
export type { VmState, VmAction, VmSignal, VmTransition, VmRule } from './state-machine.js';
export { MemoryBudget, formatBytes, type MemoryUsage } from './memory-budget.js';
export { SliceScheduler, systemClock } from '../worker/scheduler.js';
export type { SchedDecision, SchedParams, SliceReport, SchedulerClock, SchedVmStats } from '../worker/scheduler.js';
export { HostPool, inProcessHost, defaultPoolSize } from './host-port.js';
export type { VmHostPort, HostConnection, HostFactory } from './host-port.js';
export { remoteHostConnection } from './remote-host.js';
export { newIdentity, type VmIdentity } from './identity.js';
export { parseLab, loadLab, formatLabReport, saveLabWork, discardLabWork, workKey, LAB_FORMAT } from './lab.js';
export type { Lab, LabVm, ParseLabOptions, SavedWork, LabReport, LabVmReport, LabVmStatus, LoadLabOptions } from './lab.js';
export { MemoryTemplateStore, templateKey, type TemplateStore } from './template-store.js';
export { SliceRunner, systemRunnerHost } from '../worker/slice-runner.js';
export type { SliceTarget, SliceOutcome, RunnerHost, SliceRunnerOptions } from '../worker/slice-runner.js';
