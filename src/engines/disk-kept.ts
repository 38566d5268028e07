// The one line an engine gives when a machine state would overwrite a persistent disk that holds
// writes of its own (BootConfig.diskOnRestore 'refuse'). Lab start looks for it: a template made
// for an empty disk does not fit a disk the student already wrote to, and that VM boots instead.
export const DISK_KEPT_MESSAGE = 'the disk changed after this state was saved (the disk is kept as it is)';
