// Usage text for `tabvisor --help` and `tabvisor run --help` (kept in step with docs/CLI.md).

export const MAIN_HELP = `Usage: tabvisor <command> [options]

Commands:
  run       boot a guest with its console on this terminal (see \`tabvisor run --help\`)
  images    list the images in images/manifest.json
  grade     run a lab's checks again on handed-in machines (see \`tabvisor grade --help\`)
  help      show this text (\`tabvisor help run\` for the run options)

Options:
  -h, --help      show this text
  -V, --version   print the Tabvisor version

Example:
  printf 'uname -m\\npoweroff -f\\n' | tabvisor run --image x86-busybox
`;

export const RUN_HELP = `Usage: tabvisor run [--image NAME | --kernel FILE [--firmware FILE] [--initrd FILE]]
                    [--append "ARGS"] [--mem 128M] [--engine rv64|v86] [--timeout SEC]
                    [--stats] [--snapshot-out FILE] [--restore FILE]
                    [--disk FILE [--disk-write-back | --disk-overlay FILE]]
                    [--ready-marker TEXT]
                    [--share DIR [--share-ro]]
                    [--net-listen PORT | --net-connect [HOST:]PORT | --net-relay URL]
                    [--migrate-to [HOST:]PORT]
       tabvisor run --migrate-listen PORT [--mem MAX] [--timeout SEC]

The guest console is this process's stdin/stdout, like \`qemu -nographic\`. On a terminal,
keys go to the guest as typed; Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A. Piped input goes
a line at a time once the guest's console can take it (ready marker, or the port opened),
each line when the guest prompts; after the end of the input the run ends when the guest
powers off or is back at its prompt and silent for 2 s (30 s away from it; exit 0).

  --image NAME          boot an image from images/manifest.json (\`tabvisor images\`)
  --kernel FILE         boot this kernel: a Linux bzImage (v86) or, with --firmware, a RISC-V
                        Linux Image (rv64); a RISC-V ELF without --firmware runs bare metal on
                        the RV64 core (HTIF tohost: pass = exit 0, fail = exit 1)
  --firmware FILE       SeaBIOS bios.bin (v86) or OpenSBI fw_jump.bin (rv64)
  --initrd FILE         initial ramdisk
  --append "ARGS"       kernel command line (replaces the image's)
  --mem SIZE            guest memory, e.g. 128M or 1G, at most 2048M (rv64: 16M or more)
                        (default: the image's, else 128M)
  --engine rv64|v86     engine (default: the image's, else from the kernel file type)
  --timeout SEC         stop after SEC seconds (from process start, loading included) with
                        exit status 124; at most 2147483
  --stats               on exit print instructions retired, wall seconds, MIPS and the time
                        to the first console byte on stderr
  --snapshot-out FILE   save the machine to FILE once the guest is ready, then keep running
  --restore FILE        start from a snapshot instead of booting (no kernel needed)
  --disk FILE           virtual disk, a regular file (rv64: /dev/vda, v86: /dev/sda; writes go
                        to a discarded overlay)
  --disk-write-back     keep the guest's writes in the --disk FILE: journaled beside it in
                        FILE.tvjournal while running (a kill loses nothing the guest wrote),
                        merged into FILE in place when the run ends
  --disk-overlay FILE   keep the guest's writes in the overlay FILE (created when missing)
                        and never write the --disk FILE; a guest sync is durable in FILE
  --share DIR           give the guest the host folder DIR over virtio-9p (rv64 and v86);
                        the images mount it at /mnt/host, read-write; the guest cannot leave DIR
  --share-ro            make the --share folder read-only for the guest
  --net-listen PORT     a network card wired to one peer that connects to 127.0.0.1:PORT (rv64)
  --net-connect [HOST:]PORT  a network card wired to a --net-listen peer (rv64)
  --net-relay URL       a network card on a private network (10.0.2.0/24, DHCP) whose gateway
                        10.0.2.1 takes the guest's TCP and UDP (DNS too) to the internet
                        through the WISP relay at URL (ws:// or wss://); no ICMP (ping) out.
                        The relay must answer at start, else the run stops (exit 2); an
                        --image guest gets tabvisor.ip=dhcp on its command line
  --migrate-to [HOST:]PORT
                        live-migrate the running rv64 VM to a --migrate-listen run there
                        (HOST defaults to 127.0.0.1) once piped input is done, or at once on
                        SIGUSR2; the guest runs while its RAM is copied, then pauses briefly;
                        the run ends (exit 0) when the target runs it; refused, it runs on here.
                        A --disk-overlay disk goes along (same machine: the target opens the
                        same files); a run with --share, --net-* or --disk alone is not moved
  --migrate-listen PORT wait on 127.0.0.1:PORT for one VM from a --migrate-to run and run it
                        here; --mem is the largest machine taken (default 2048M)
  --ready-marker TEXT   console text after which piped input is sent (default: the image's,
                        else "tabvisor-guest-ready"; "" expects none: input goes once the
                        guest's console can take it)

Input files must be regular files no bigger than the guest RAM (an ELF: 1 GiB; a snapshot:
2 GiB). Output files are never replaced by a new file where that would damage them: symlinks
are followed, devices, FIFOs, folders and read-only files are refused.

Exit status: 0 guest powered off (or HTIF pass), 1 HTIF test failed, 2 bad arguments or
unusable input or output files, 3 internal error, 124 timeout, 129/130/143 SIGHUP/SIGINT/
SIGTERM (the run ends cleanly first: the disk is written back).
`;
